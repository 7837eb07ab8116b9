/// The reasons Kubernetes puts in container states, which `get pods` shows as STATUS.
public enum ContainerReason {
    /// Waiting: the container has not been started yet.
    public static let containerCreating = "ContainerCreating"
    /// Waiting: the container has not been started yet, in a pod with init containers (they
    /// run first).
    public static let podInitializing = "PodInitializing"
    /// Waiting: the image is not known (podlab's built-in catalog has no such image).
    public static let errImagePull = "ErrImagePull"
    /// Waiting: retrying an image that failed to pull, with back-off.
    public static let imagePullBackOff = "ImagePullBackOff"
    /// Waiting: the container keeps exiting; the next start is delayed by back-off.
    public static let crashLoopBackOff = "CrashLoopBackOff"
    /// Waiting: the process could not be set up (bad command, working directory...).
    public static let createContainerError = "CreateContainerError"
    /// Waiting: the process could not be started.
    public static let runContainerError = "RunContainerError"
    /// Terminated with exit code 0.
    public static let completed = "Completed"
    /// Terminated with a non-zero exit code.
    public static let error = "Error"
    /// Terminated by the kernel's out-of-memory killer.
    public static let oomKilled = "OOMKilled"

    /// `Completed` for exit code 0, `Error` otherwise, as the kubelet reports them.
    public static func terminated(exitCode: Int32) -> String { exitCode == 0 ? completed : error }
}
