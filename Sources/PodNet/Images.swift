// The image catalog lives in its own module without Foundation, so that `podlab-tools` (the
// pods' processes) starts without loading it; the model uses it through PodNet as before.
@_exported import PodlabImages
