#define _GNU_SOURCE
#include "cnetlink.h"
#include <errno.h>
#include <fcntl.h>
#include <sched.h>
#include <signal.h>
#include <spawn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include <sys/ioctl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/vfs.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libmnl/libmnl.h>

const int PL_CLONE_NEWNET = CLONE_NEWNET;
const int PL_CLONE_NEWUTS = CLONE_NEWUTS;
const int PL_CLONE_NEWIPC = CLONE_NEWIPC;
const int PL_CLONE_NEWNS = CLONE_NEWNS;
const int PL_CLONE_FS = CLONE_FS;
const int PL_O_PATH = O_PATH;

int pl_unshare(int flags) { return unshare(flags) == 0 ? 0 : -errno; }

int pl_setns(int fd, int nstype) { return setns(fd, nstype) == 0 ? 0 : -errno; }

pid_t pl_gettid(void) { return (pid_t)syscall(SYS_gettid); }

void pl_set_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

int pl_accept_nonblocking(int fd, struct sockaddr *address, unsigned int *length) {
    int client = accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return client >= 0 ? client : -errno;
}

int pl_sethostname(const char *name, size_t len) { return sethostname(name, len) == 0 ? 0 : -errno; }

size_t pl_mnl_socket_buffer_size(void) { return MNL_SOCKET_BUFFER_SIZE; }

int pl_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
             const char *cwd, int stdin_fd, int stdout_fd, int stderr_fd, int flags) {
    if ((flags & PL_SPAWN_CONTROLLING_TERMINAL) && (stdin_fd < 0 || !(flags & PL_SPAWN_NEW_SESSION))) return -EINVAL;
    posix_spawn_file_actions_t fa;
    posix_spawnattr_t attr;
    int rc = posix_spawn_file_actions_init(&fa);
    if (rc != 0) return -rc;
    rc = posix_spawnattr_init(&attr);
    if (rc != 0) { posix_spawn_file_actions_destroy(&fa); return -rc; }

    /* A session leader without a controlling terminal acquires the terminal it opens without
     * O_NOCTTY (dup2 would not do it). glibc runs setsid before the file actions, so the child
     * opens its terminal anew, through its own fd table: /proc/self/fd/N reaches the very
     * terminal the inherited fd N refers to, whatever the child's mount namespace has in /dev/pts. */
    char terminal[32];
    snprintf(terminal, sizeof terminal, "/proc/self/fd/%d", stdin_fd);

    int fds[3] = { stdin_fd, stdout_fd, stderr_fd };
    for (int target = 0; target < 3 && rc == 0; target++) {
        if (target == 0 && (flags & PL_SPAWN_CONTROLLING_TERMINAL)) {
            rc = posix_spawn_file_actions_addopen(&fa, 0, terminal, O_RDWR, 0);
        } else if (fds[target] < 0) {
            rc = posix_spawn_file_actions_addopen(&fa, target, "/dev/null",
                                                  target == 0 ? O_RDONLY : O_WRONLY, 0);
        } else {
            /* dup2 onto itself clears FD_CLOEXEC, which is what we want here. */
            rc = posix_spawn_file_actions_adddup2(&fa, fds[target], target);
        }
    }
    if (rc == 0 && cwd != NULL) rc = posix_spawn_file_actions_addchdir_np(&fa, cwd);
    if (rc == 0) rc = posix_spawn_file_actions_addclosefrom_np(&fa, 3);

    sigset_t none, all;
    sigemptyset(&none);
    sigfillset(&all);
    short attributes = POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF;
    if (flags & PL_SPAWN_NEW_SESSION) attributes |= POSIX_SPAWN_SETSID;
    if (rc == 0) rc = posix_spawnattr_setsigmask(&attr, &none);
    if (rc == 0) rc = posix_spawnattr_setsigdefault(&attr, &all);
    if (rc == 0) rc = posix_spawnattr_setflags(&attr, attributes);
    if (rc == 0) rc = posix_spawn(pid, path, &fa, &attr, argv, envp);

    posix_spawnattr_destroy(&attr);
    posix_spawn_file_actions_destroy(&fa);
    return rc == 0 ? 0 : -rc;
}

pid_t pl_waitpid(pid_t pid, int options, int *exited, int *code, int *signaled, int *signal) {
    int status = 0;
    pid_t r;
    do { r = waitpid(pid, &status, options); } while (r < 0 && errno == EINTR);
    if (r < 0) return -errno;
    if (r > 0) {
        *exited = WIFEXITED(status);
        *code = WIFEXITED(status) ? WEXITSTATUS(status) : 0;
        *signaled = WIFSIGNALED(status);
        *signal = WIFSIGNALED(status) ? WTERMSIG(status) : 0;
    }
    return r;
}

int pl_kill(pid_t pid, int sig) { return kill(pid, sig) == 0 ? 0 : -errno; }

int pl_set_child_subreaper(void) { return prctl(PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0) == 0 ? 0 : -errno; }

pid_t pl_wait_any_ended(int *exited, int *code, int *signaled, int *signal) {
    siginfo_t info;
    int r;
    memset(&info, 0, sizeof info);
    do { r = waitid(P_ALL, 0, &info, WEXITED | WNOHANG | WNOWAIT); } while (r < 0 && errno == EINTR);
    if (r < 0) return -errno;
    /* WNOHANG with no child ended leaves si_pid 0 (waitid(2)). */
    if (info.si_pid == 0) return 0;
    *exited = info.si_code == CLD_EXITED;
    *code = info.si_code == CLD_EXITED ? info.si_status : 0;
    *signaled = info.si_code == CLD_KILLED || info.si_code == CLD_DUMPED;
    *signal = *signaled ? info.si_status : 0;
    return info.si_pid;
}

int pl_keeper_signalfd(void) {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGCHLD);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    sigaddset(&set, SIGHUP);
    int rc = pthread_sigmask(SIG_BLOCK, &set, NULL);
    if (rc != 0) return -rc;
    int fd = signalfd(-1, &set, SFD_CLOEXEC | SFD_NONBLOCK);
    return fd >= 0 ? fd : -errno;
}

int pl_signalfd_read(int fd) {
    struct signalfd_siginfo info;
    ssize_t n;
    do { n = read(fd, &info, sizeof info); } while (n < 0 && errno == EINTR);
    if (n < 0) return errno == EAGAIN ? 0 : -errno;
    return n == sizeof info ? (int)info.ssi_signo : -EIO;
}

int pl_set_socket_buffers(int fd, int sndbuf, int rcvbuf) {
    if (sndbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_SNDBUFFORCE, &sndbuf, sizeof sndbuf) != 0) return -errno;
    if (rcvbuf > 0 && setsockopt(fd, SOL_SOCKET, SO_RCVBUFFORCE, &rcvbuf, sizeof rcvbuf) != 0) return -errno;
    return 0;
}

int pl_pidfd_open(pid_t pid) {
    long fd = syscall(SYS_pidfd_open, pid, 0);
    return fd < 0 ? -errno : (int)fd;
}

int pl_open_pseudo_terminal(int *master, int *slave) {
    int m = posix_openpt(O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (m < 0) return -errno;
    if (grantpt(m) != 0 || unlockpt(m) != 0) {
        int error = errno;
        close(m);
        return -error;
    }
    int s = ioctl(m, TIOCGPTPEER, O_RDWR | O_NOCTTY | O_CLOEXEC);
    if (s < 0) {
        int error = errno;
        close(m);
        return -error;
    }
    *master = m;
    *slave = s;
    return 0;
}

int pl_set_window_size(int fd, unsigned short rows, unsigned short columns) {
    struct winsize size = { .ws_row = rows, .ws_col = columns };
    return ioctl(fd, TIOCSWINSZ, &size) == 0 ? 0 : -errno;
}

int pl_spawn_as(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                const char *cwd, int stdin_fd, int stdout_fd, int stderr_fd, int flags,
                unsigned int uid, unsigned int gid, const unsigned int *groups, size_t ngroups) {
    uid_t ruid, euid, suid;
    gid_t rgid, egid, sgid;
    gid_t saved_groups[256];
    if (getresuid(&ruid, &euid, &suid) != 0 || getresgid(&rgid, &egid, &sgid) != 0) return -errno;
    long nsaved = syscall(SYS_getgroups, 256, saved_groups);
    if (nsaved < 0) return -errno;

    /* Groups and gid first: once the uid is another, CAP_SETGID is gone from the effective set. */
    int rc = 0;
    if (syscall(SYS_setgroups, ngroups, groups) != 0) return -errno;
    if (syscall(SYS_setresgid, gid, gid, -1) != 0) {
        rc = -errno;
    } else if (syscall(SYS_setresuid, uid, uid, -1) != 0) {
        rc = -errno;
    } else {
        rc = pl_spawn(pid, path, argv, envp, cwd, stdin_fd, stdout_fd, stderr_fd, flags);
    }
    /* Back: the uid first (the saved uid still allows it, and brings the capabilities back). */
    if (syscall(SYS_setresuid, ruid, euid, suid) != 0 || syscall(SYS_setresgid, rgid, egid, sgid) != 0
        || syscall(SYS_setgroups, (size_t)nsaved, saved_groups) != 0) {
        fprintf(stderr, "pl_spawn_as: the thread cannot get its credentials back (errno %d)\n", errno);
        abort();
    }
    return rc;
}

int pl_statfs_type(const char *path, long *type) {
    struct statfs info;
    if (statfs(path, &info) != 0) return -errno;
    *type = (long)info.f_type;
    return 0;
}

int pl_pivot_root(const char *new_root, const char *put_old) {
    return syscall(SYS_pivot_root, new_root, put_old) == 0 ? 0 : -errno;
}

int pl_open_tree_clone(const char *path) {
    int fd = open_tree(AT_FDCWD, path, OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE);
    return fd >= 0 ? fd : -errno;
}

int pl_move_mount(int fd, const char *target) {
    return move_mount(fd, "", AT_FDCWD, target, MOVE_MOUNT_F_EMPTY_PATH) == 0 ? 0 : -errno;
}
