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
#include <netinet/in.h>
#include <string.h>
#include <sys/vfs.h>
#include <sys/xattr.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>
#include <libmnl/libmnl.h>
#include <linux/sched.h>
#include <pthread.h>

const int PL_CLONE_NEWNET = CLONE_NEWNET;
const int PL_CLONE_NEWUTS = CLONE_NEWUTS;
const int PL_CLONE_NEWIPC = CLONE_NEWIPC;
const int PL_CLONE_NEWNS = CLONE_NEWNS;
const int PL_CLONE_NEWPID = CLONE_NEWPID;
const int PL_CLONE_FS = CLONE_FS;
const int PL_O_PATH = O_PATH;

int pl_unshare(int flags) { return unshare(flags) == 0 ? 0 : -errno; }

int pl_setns(int fd, int nstype) { return setns(fd, nstype) == 0 ? 0 : -errno; }

int pl_make_file_with_xattr(const char *directory, const char *path, const char *name, const char *value) {
    int fd = open(directory, O_TMPFILE | O_WRONLY | O_CLOEXEC, 0);
    if (fd < 0) return -errno;
    int rc = 0;
    if (fsetxattr(fd, name, value, strlen(value), 0) != 0 || linkat(fd, "", AT_FDCWD, path, AT_EMPTY_PATH) != 0) rc = -errno;
    close(fd);
    return rc;
}

long pl_getxattr(const char *path, const char *name, char *buffer, unsigned long size) {
    ssize_t n = getxattr(path, name, buffer, size);
    return n >= 0 ? (long)n : -errno;
}

pid_t pl_gettid(void) { return (pid_t)syscall(SYS_gettid); }

void pl_set_thread_name(const char *name) { prctl(PR_SET_NAME, name, 0, 0, 0); }

int pl_accept_nonblocking(int fd, struct sockaddr *address, unsigned int *length) {
    int client = accept4(fd, address, length, SOCK_NONBLOCK | SOCK_CLOEXEC);
    return client >= 0 ? client : -errno;
}

int pl_sethostname(const char *name, size_t len) { return sethostname(name, len) == 0 ? 0 : -errno; }

size_t pl_mnl_socket_buffer_size(void) { return MNL_SOCKET_BUFFER_SIZE; }

/* The child of spawn_into_cgroup, between clone3 and execve: only async-signal-safe system
 * calls (the parent has other threads, whose locks may be held in this copy of its memory).
 * Returns the errno of the step that failed; does not return on success. */
static int spawn_child(const char *path, char *const argv[], char *const envp[], const char *cwd,
                       const int fds[3], const char *terminal, int flags, const struct pl_spawn_cgroup *cgroup) {
    /* "0" is the writer itself: cgroup v1 moves the whole (single-threaded) process. */
    for (size_t i = 0; i < cgroup->nprocs; i++) {
        if (write(cgroup->procs_fds[i], "0", 1) != 1) return errno;
    }
    /* The parent's handlers must not run here; all signals are blocked until exec. */
    struct sigaction dfl = { .sa_handler = SIG_DFL };
    for (int sig = 1; sig < _NSIG; sig++) sigaction(sig, &dfl, NULL);
    if ((flags & PL_SPAWN_NEW_SESSION) && setsid() < 0) return errno;
    for (int target = 0; target < 3; target++) {
        int fd;
        if (target == 0 && (flags & PL_SPAWN_CONTROLLING_TERMINAL)) {
            fd = open(terminal, O_RDWR);
        } else if (fds[target] < 0) {
            fd = open("/dev/null", target == 0 ? O_RDONLY : O_WRONLY);
        } else if (fds[target] == target) {
            /* posix_spawn's dup2 onto itself: the fd stays, without FD_CLOEXEC. */
            if (fcntl(target, F_SETFD, 0) < 0) return errno;
            continue;
        } else {
            if (dup2(fds[target], target) < 0) return errno;
            continue;
        }
        if (fd < 0) return errno;
        if (fd != target) {
            if (dup2(fd, target) < 0) return errno;
            close(fd);
        }
    }
    if (cwd != NULL && chdir(cwd) != 0) return errno;
    /* close_range(3, ~0U, 0): what posix_spawn's closefrom does. */
    if (syscall(SYS_close_range, 3U, ~0U, 0) != 0) return errno;
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    execve(path, argv, envp);
    return errno;
}

/* pl_spawn into cgroups: a fork (clone3, with CLONE_INTO_CGROUP for a v2 directory) whose child
 * joins the v1 cgroups itself, so it runs nothing of the program before it is in them. posix_spawn
 * cannot do this: glibc 2.36 has no cgroup attribute, and the parent waits for the exec. The
 * child reports a failed step through a close-on-exec pipe; end of file means it exec'd. */
static int spawn_into_cgroup(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                             const char *cwd, const int fds[3], const char *terminal, int flags,
                             const struct pl_spawn_cgroup *cgroup) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) != 0) return -errno;
    sigset_t all, old;
    sigfillset(&all);
    pthread_sigmask(SIG_SETMASK, &all, &old);
    struct clone_args args = { .exit_signal = SIGCHLD };
    if (cgroup->cgroup2_fd >= 0) {
        args.flags = CLONE_INTO_CGROUP;
        args.cgroup = (unsigned long long)cgroup->cgroup2_fd;
    }
    long child = syscall(SYS_clone3, &args, sizeof args);
    if (child == 0) {
        close(report[0]);
        int error = spawn_child(path, argv, envp, cwd, fds, terminal, flags, cgroup);
        while (write(report[1], &error, sizeof error) < 0 && errno == EINTR) {}
        _exit(127);
    }
    int clone_error = errno;
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    close(report[1]);
    if (child < 0) {
        close(report[0]);
        return -clone_error;
    }
    int error = 0;
    ssize_t n;
    do { n = read(report[0], &error, sizeof error); } while (n < 0 && errno == EINTR);
    close(report[0]);
    if (n == (ssize_t)sizeof error) {
        int status;
        while (waitpid((pid_t)child, &status, 0) < 0 && errno == EINTR) {}
        return -error;
    }
    *pid = (pid_t)child;
    return 0;
}

int pl_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
             const char *cwd, int stdin_fd, int stdout_fd, int stderr_fd, int flags,
             const struct pl_spawn_cgroup *cgroup) {
    if ((flags & PL_SPAWN_CONTROLLING_TERMINAL) && (stdin_fd < 0 || !(flags & PL_SPAWN_NEW_SESSION))) return -EINVAL;
    if (cgroup != NULL) {
        char terminal[32];
        snprintf(terminal, sizeof terminal, "/proc/self/fd/%d", stdin_fd);
        int fds[3] = { stdin_fd, stdout_fd, stderr_fd };
        return spawn_into_cgroup(pid, path, argv, envp, cwd, fds, terminal, flags, cgroup);
    }
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

int pl_pidfd_send_signal(int pidfd, int sig) {
    return syscall(SYS_pidfd_send_signal, pidfd, sig, NULL, 0) == 0 ? 0 : -errno;
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
                const struct pl_spawn_cgroup *cgroup,
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
        rc = pl_spawn(pid, path, argv, envp, cwd, stdin_fd, stdout_fd, stderr_fd, flags, cgroup);
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

int pl_enable_packet_info(int fd) {
    int one = 1;
    return setsockopt(fd, IPPROTO_IP, IP_PKTINFO, &one, sizeof one) == 0 ? 0 : -errno;
}

#define PL_DATAGRAM_BATCH_MAX 64

int pl_receive_datagrams(int fd, struct pl_datagram *batch, unsigned int count) {
    if (count > PL_DATAGRAM_BATCH_MAX) count = PL_DATAGRAM_BATCH_MAX;
    struct mmsghdr messages[PL_DATAGRAM_BATCH_MAX];
    struct iovec vectors[PL_DATAGRAM_BATCH_MAX];
    union { char bytes[CMSG_SPACE(sizeof(struct in_pktinfo))]; struct cmsghdr align; } control[PL_DATAGRAM_BATCH_MAX];
    memset(messages, 0, sizeof(struct mmsghdr) * count);
    for (unsigned int i = 0; i < count; i++) {
        vectors[i].iov_base = batch[i].buffer;
        vectors[i].iov_len = batch[i].capacity;
        messages[i].msg_hdr.msg_name = batch[i].peer;
        messages[i].msg_hdr.msg_namelen = sizeof batch[i].peer;
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
        messages[i].msg_hdr.msg_control = control[i].bytes;
        messages[i].msg_hdr.msg_controllen = sizeof control[i].bytes;
    }
    int received;
    do { received = recvmmsg(fd, messages, count, MSG_WAITFORONE, NULL); } while (received < 0 && errno == EINTR);
    if (received < 0) return -errno;
    for (int i = 0; i < received; i++) {
        batch[i].length = messages[i].msg_len;
        batch[i].peer_length = messages[i].msg_hdr.msg_namelen;
        batch[i].truncated = (messages[i].msg_hdr.msg_flags & MSG_TRUNC) != 0;
        batch[i].local_address = 0;
        for (struct cmsghdr *c = CMSG_FIRSTHDR(&messages[i].msg_hdr); c; c = CMSG_NXTHDR(&messages[i].msg_hdr, c)) {
            if (c->cmsg_level == IPPROTO_IP && c->cmsg_type == IP_PKTINFO) {
                struct in_pktinfo info;
                memcpy(&info, CMSG_DATA(c), sizeof info);
                batch[i].local_address = info.ipi_addr.s_addr;
            }
        }
    }
    return received;
}

int pl_send_datagrams(int fd, struct pl_datagram *batch, unsigned int count) {
    if (count > PL_DATAGRAM_BATCH_MAX) count = PL_DATAGRAM_BATCH_MAX;
    struct mmsghdr messages[PL_DATAGRAM_BATCH_MAX];
    struct iovec vectors[PL_DATAGRAM_BATCH_MAX];
    union { char bytes[CMSG_SPACE(sizeof(struct in_pktinfo))]; struct cmsghdr align; } control[PL_DATAGRAM_BATCH_MAX];
    memset(messages, 0, sizeof(struct mmsghdr) * count);
    memset(control, 0, sizeof(control[0]) * count);
    for (unsigned int i = 0; i < count; i++) {
        vectors[i].iov_base = batch[i].buffer;
        vectors[i].iov_len = batch[i].length;
        messages[i].msg_hdr.msg_name = batch[i].peer;
        messages[i].msg_hdr.msg_namelen = batch[i].peer_length;
        messages[i].msg_hdr.msg_iov = &vectors[i];
        messages[i].msg_hdr.msg_iovlen = 1;
        if (batch[i].local_address != 0) {
            messages[i].msg_hdr.msg_control = control[i].bytes;
            messages[i].msg_hdr.msg_controllen = sizeof control[i].bytes;
            struct cmsghdr *c = CMSG_FIRSTHDR(&messages[i].msg_hdr);
            c->cmsg_level = IPPROTO_IP;
            c->cmsg_type = IP_PKTINFO;
            c->cmsg_len = CMSG_LEN(sizeof(struct in_pktinfo));
            struct in_pktinfo info;
            memset(&info, 0, sizeof info);
            info.ipi_spec_dst.s_addr = batch[i].local_address;
            memcpy(CMSG_DATA(c), &info, sizeof info);
        }
    }
    unsigned int sent = 0;
    while (sent < count) {
        int n = sendmmsg(fd, messages + sent, count - sent, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            /* A peer that cannot be reached (an ICMP error was queued) fails only its own datagram. */
            sent++;
            continue;
        }
        sent += (unsigned int)n;
    }
    return (int)sent;
}

int pl_syncfs(int fd) {
    return syncfs(fd) == 0 ? 0 : -errno;
}
