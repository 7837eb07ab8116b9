#ifndef PODLAB_CNETLINK_H
#define PODLAB_CNETLINK_H
/*
 * Small C wrappers for what Swift cannot import directly: glibc functions hidden behind
 * _GNU_SOURCE (unshare, setns, gettid, posix_spawn extensions), function-like macros
 * (WIFEXITED, ...) and values computed at run time (MNL_SOCKET_BUFFER_SIZE).
 *
 * Convention: every function that can fail returns 0 (or a non-negative value) on
 * success and -errno on failure, so Swift never reads errno far from the call.
 */
#include <sys/types.h>
#include <stddef.h>
/* epoll(7) is not part of Swift's Glibc module; the prober's event loops use it. */
#include <sys/epoll.h>
#include <malloc.h>  /* malloc_trim: the agent gives a burst's memory back */
/* Extended attributes: the image store writes layers' xattrs and overlayfs's opaque marker. */
#include <sys/xattr.h>

/* Namespace kinds, the CLONE_NEW* flags of <sched.h>. */
extern const int PL_CLONE_NEWNET;
extern const int PL_CLONE_NEWUTS;
extern const int PL_CLONE_NEWIPC;
extern const int PL_CLONE_NEWNS;
/* A pid namespace: setns/unshare of it change only which namespace the calling thread's next
 * children are born in (/proc/thread-self/ns/pid_for_children), never the thread's own. */
extern const int PL_CLONE_NEWPID;
/* unshare(CLONE_FS): the calling thread gets its own root, working directory and umask, which
 * setns(CLONE_NEWNS) requires of a thread in a multi-threaded process. */
extern const int PL_CLONE_FS;
/* open(2)'s O_PATH (hidden behind _GNU_SOURCE). */
extern const int PL_O_PATH;

/* syncfs(2) (hidden behind _GNU_SOURCE): flushes the file system holding fd. Returns 0 or -errno. */
int pl_syncfs(int fd);

/* unshare(2). Returns 0 or -errno. */
int pl_unshare(int flags);

/* setns(2). Returns 0 or -errno. */
int pl_setns(int fd, int nstype);

/* An empty file at `path`, made unnamed in its directory (O_TMPFILE), given the extended
 * attribute `name` = `value`, then linked under `path` (linkat AT_EMPTY_PATH: EEXIST when the
 * name is taken), so that it never exists without the attribute. Returns 0 or -errno
 * (-EOPNOTSUPP, -EISDIR or -EINVAL: the file system cannot). */
int pl_make_file_with_xattr(const char *directory, const char *path, const char *name, const char *value);

/* getxattr(2) into `buffer` (at most `size` bytes). Returns the length, or -errno. */
long pl_getxattr(const char *path, const char *name, char *buffer, unsigned long size);

/* gettid(2): the calling thread's id. */
pid_t pl_gettid(void);

/* accept4(2) with SOCK_NONBLOCK | SOCK_CLOEXEC: the new socket is non-blocking and closed on
 * exec from the start. Returns the fd, or -errno. */
struct sockaddr;
int pl_accept_nonblocking(int fd, struct sockaddr *address, unsigned int *length);

/* UDP datagrams in batches (recvmmsg/sendmmsg), each with the local address it was sent to
 * (IP_PKTINFO). A server bound to 0.0.0.0 must answer from the address the query reached:
 * otherwise the kernel picks the source by route (a node answering its own pod from the
 * bridge's address, not the one the pod asked), and a client or a NAT rejects the answer. */
struct pl_datagram {
    unsigned char *buffer;      /* `capacity` bytes */
    unsigned int capacity;
    unsigned int length;        /* bytes received, or to send */
    unsigned char peer[128];    /* struct sockaddr_storage */
    unsigned int peer_length;
    unsigned int local_address; /* the query's destination (network byte order), 0 if unknown */
    int truncated;              /* the datagram was longer than `capacity` */
};

/* Asks the kernel for IP_PKTINFO on `fd`. Returns 0 or -errno. */
int pl_enable_packet_info(int fd);

/* Receives up to `count` datagrams: waits for the first, then takes what is queued
 * (MSG_WAITFORONE). Returns how many, or -errno. */
int pl_receive_datagrams(int fd, struct pl_datagram *batch, unsigned int count);

/* Sends `count` datagrams, each to its peer from its local address. Returns how many were
 * sent, or -errno. */
int pl_send_datagrams(int fd, struct pl_datagram *batch, unsigned int count);

/* Names the calling thread (PR_SET_NAME: at most 15 bytes are kept), as `ps -L` shows it. */
void pl_set_thread_name(const char *name);

/* sethostname(2) in the calling thread's UTS namespace. Returns 0 or -errno. */
int pl_sethostname(const char *name, size_t len);

/* MNL_SOCKET_BUFFER_SIZE (a macro that calls sysconf). */
size_t pl_mnl_socket_buffer_size(void);

/* Flags of pl_spawn. */
/* The child becomes a session leader (so the whole process group can be signalled). */
#define PL_SPAWN_NEW_SESSION 1
/* stdin_fd is a terminal (the slave of a pseudo-terminal) that becomes the child's controlling
 * terminal; needs PL_SPAWN_NEW_SESSION. */
#define PL_SPAWN_CONTROLLING_TERMINAL 2

/*
 * Where a child goes before it runs anything of its own: a cgroup v2 directory (`cgroup2_fd`,
 * an O_RDONLY | O_DIRECTORY fd; -1 for none), into which clone3(CLONE_INTO_CGROUP) creates it,
 * and/or cgroup v1 `cgroup.procs` files (`procs_fds`, opened for writing), into which the child
 * writes its own pid before exec, one per hierarchy.
 */
struct pl_spawn_cgroup {
    int cgroup2_fd;
    const int *procs_fds;
    size_t nprocs;
};

/*
 * posix_spawn(3) of `path` with `argv`/`envp`, started in the calling thread's namespaces.
 * The child gets stdin/stdout/stderr from the given fds (-1: /dev/null), changes into `cwd`
 * when it is not NULL, closes every other fd (closefrom 3), gets a default signal mask and
 * default dispositions; `flags` is a combination of PL_SPAWN_* above.
 * With `cgroup` (NULL: the caller's cgroups), the child is forked with clone3 instead and is in
 * those cgroups before it execs, then does what posix_spawn would; an error of its set-up or of
 * execve comes back as this call's -errno (the child is reaped).
 * Returns 0 and stores the pid in *pid, or -errno.
 */
int pl_spawn(pid_t *pid, const char *path, char *const argv[], char *const envp[],
             const char *cwd, int stdin_fd, int stdout_fd, int stderr_fd, int flags,
             const struct pl_spawn_cgroup *cgroup);

/*
 * pl_spawn as another user. On the calling thread only (raw setgroups/setresgid/setresuid
 * system calls: glibc's wrappers change every thread of the process), the supplementary groups,
 * the gid and the uid become `groups`, `gid` and `uid` while the saved ids stay, the child is
 * spawned and inherits them (exec makes them all of its ids), and the thread gets its own back.
 * Needs CAP_SETUID and CAP_SETGID. Returns what pl_spawn returns, or the -errno of a refused
 * change (nothing spawned). Aborts if the thread cannot get its own credentials back.
 */
int pl_spawn_as(pid_t *pid, const char *path, char *const argv[], char *const envp[],
                const char *cwd, int stdin_fd, int stdout_fd, int stderr_fd, int flags,
                const struct pl_spawn_cgroup *cgroup,
                unsigned int uid, unsigned int gid, const unsigned int *groups, size_t ngroups);

/*
 * A new pseudo-terminal: *master gets the master side, *slave the slave side (both O_CLOEXEC,
 * neither the caller's controlling terminal). The slave is opened from the master
 * (TIOCGPTPEER), not by its /dev/pts path, so it is the right one in any mount namespace.
 * Returns 0, or -errno.
 */
int pl_open_pseudo_terminal(int *master, int *slave);

/* TIOCSWINSZ: sets a terminal's window size (the foreground process group gets SIGWINCH).
 * Returns 0, or -errno. */
int pl_set_window_size(int fd, unsigned short rows, unsigned short columns);

/*
 * waitpid(2) for one child. `options` as waitpid's (WNOHANG = 1).
 * Returns the pid (0 with WNOHANG if it has not changed state) or -errno. On a pid > 0,
 * the out-parameters hold WIFEXITED, WEXITSTATUS, WIFSIGNALED and WTERMSIG.
 */
pid_t pl_waitpid(pid_t pid, int options, int *exited, int *code, int *signaled, int *signal);

/* kill(2). Returns 0 or -errno. */
int pl_kill(pid_t pid, int sig);

/* prctl(PR_SET_CHILD_SUBREAPER, 1): orphaned descendants of the calling process re-parent to
 * it instead of to init. Returns 0 or -errno. */
int pl_set_child_subreaper(void);

/*
 * waitid(P_ALL, WEXITED | WNOHANG | WNOWAIT): a child that has ended, left a zombie (so its
 * /proc entry can still be read), or 0 when every child still runs. Returns the pid, 0, or
 * -errno (-ECHILD: no children at all). On a pid > 0, the out-parameters say how it ended as
 * pl_waitpid's do.
 */
pid_t pl_wait_any_ended(int *exited, int *code, int *signaled, int *signal);

/*
 * Blocks SIGCHLD, SIGTERM, SIGINT and SIGHUP in the calling thread (threads created later
 * inherit the mask) and returns a signalfd (O_CLOEXEC | O_NONBLOCK) that reads them.
 * Returns the fd or -errno.
 */
int pl_keeper_signalfd(void);

/* Reads one signal from a signalfd: its number, 0 when none is pending, or -errno. */
int pl_signalfd_read(int fd);

/* setsockopt(SO_SNDBUFFORCE / SO_RCVBUFFORCE) on fd. Returns 0 or -errno. */
int pl_set_socket_buffers(int fd, int sndbuf, int rcvbuf);

/* pidfd_open(2): an fd that becomes readable when the process exits (works for processes
 * that are not our children, e.g. containers adopted after an agent restart).
 * Returns the fd (O_CLOEXEC) or -errno. */
int pl_pidfd_open(pid_t pid);

/* pidfd_send_signal(2): `sig` to the process `pidfd` refers to, never to a process that
 * reused its pid. Returns 0 or -errno (ESRCH once it has ended). */
int pl_pidfd_send_signal(int pidfd, int sig);

/* statfs(2): stores the file system's magic number (f_type) of `path` in *type.
 * Returns 0 or -errno. */
int pl_statfs_type(const char *path, long *type);

/* pivot_root(2) (glibc has no wrapper). Returns 0 or -errno. */
int pl_pivot_root(const char *new_root, const char *put_old);

/* open_tree(2) with OPEN_TREE_CLONE | OPEN_TREE_CLOEXEC | AT_RECURSIVE: a detached copy of the
 * mount tree at `path` in the caller's mount namespace, as an fd that `pl_move_mount` can attach
 * in another one. Returns the fd or -errno. */
int pl_open_tree_clone(const char *path);

/* move_mount(2) of the detached tree `fd` onto `target` (MOVE_MOUNT_F_EMPTY_PATH).
 * Returns 0 or -errno. */
int pl_move_mount(int fd, const char *target);

#endif
