// SPDX-License-Identifier: Apache-2.0
/* Published ports (docs/oci-runtime.md "Published ports"): an engine publishes a port by
 * sending the host port's traffic into the container's network namespace (Podman's CNI
 * portmap, Docker's DNAT and proxy all end at CONTAINER-IP:PORT), but the box is a VM with
 * its own user-mode network, started in the caller's namespace. So for each port of the
 * io.boxlite.ports annotation the box forwards a loopback port of the caller's namespace
 * to the guest's port (the library's port forward), and a proxy process of the relay
 * listens on the port in the container's namespace and carries each connection there:
 * accepted in the container's namespace, connected in the caller's. */
#include "runtime.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <poll.h>
#include <sched.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/signalfd.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

/* The host port the box's forward of guest port gp was given (boxlite_box_info). */
static int host_port_of(const char *info, int gp)
{
    json_t *o = json_loads(info, 0, NULL);
    json_t *ports = json_object_get(o, "ports"), *p;
    size_t i;
    int hp = -1;
    json_array_foreach(ports, i, p) {
        if (json_integer_value(json_object_get(p, "guest_port")) == gp &&
            json_integer_value(json_object_get(p, "host_port")) > 0)
            hp = (int)json_integer_value(json_object_get(p, "host_port"));
    }
    json_decref(o);
    return hp;
}

/* Copies both ways between a and b until both directions ended. */
static void splice_both(int a, int b)
{
    char buf[65536];
    bool a_open = true, b_open = true;
    while (a_open || b_open) {
        struct pollfd p[2] = { { .fd = a_open ? a : -1, .events = POLLIN },
                               { .fd = b_open ? b : -1, .events = POLLIN } };
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            return;
        }
        for (int k = 0; k < 2; k++) {
            if (!p[k].revents)
                continue;
            int from = k ? b : a, to = k ? a : b;
            ssize_t n = read(from, buf, sizeof buf);
            if (n <= 0) {
                shutdown(to, SHUT_WR); /* the other side sees the end, may still answer */
                if (k)
                    b_open = false;
                else
                    a_open = false;
                continue;
            }
            for (ssize_t off = 0; off < n;) {
                ssize_t w = write(to, buf + off, (size_t)(n - off));
                if (w <= 0)
                    return;
                off += w;
            }
        }
    }
}

/* One connection: the box's forward is reached in the caller's namespace (host_ns). */
static __attribute__((noreturn)) void carry(int conn, int host_ns, int hp)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL);
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)hp),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int s = -1;
    if (setns(host_ns, CLONE_NEWNET) == 0)
        s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 || connect(s, (struct sockaddr *)&a, sizeof a) < 0)
        _exit(1);
    splice_both(conn, s);
    _exit(0);
}

/* Closes every descriptor but keep's (and stdio, pointed at /dev/null). */
static void close_all_but(int *keep, size_t n)
{
    int null = open("/dev/null", O_RDWR | O_CLOEXEC);
    for (int fd = 0; fd < 3 && null >= 0; fd++)
        dup2(null, fd);
    for (size_t i = 1; i < n; i++) /* sorted, to close the gaps between them */
        for (size_t j = i; j > 0 && keep[j - 1] > keep[j]; j--) {
            int t = keep[j];
            keep[j] = keep[j - 1];
            keep[j - 1] = t;
        }
    unsigned lo = 3;
    for (size_t i = 0; i <= n; i++) {
        unsigned hi = i < n ? (unsigned)keep[i] : ~0u;
        if (hi > lo)
            syscall(SYS_close_range, lo, hi - 1, 0u);
        if (i < n)
            lo = (unsigned)keep[i] + 1;
    }
}

/* At most this many connections are carried at once (a process each): the published port
 * faces the network, and past it further connections wait in the listeners' backlog. */
#define MAX_CONNECTIONS 256

/* The proxy process: accepts on the listeners, a process per connection. Never returns. */
static __attribute__((noreturn)) void proxy(int *lfd, const int *hp, size_t n, int host_ns)
{
    prctl(PR_SET_PDEATHSIG, SIGKILL); /* it ends with the relay */
    /* nothing of the relay's: create reads its report pipe to the end, and the caller's
     * stdio must end with the relay */
    int keep[OCI_MAX_PORTS + 1];
    size_t nk = 0;
    for (size_t i = 0; i < n; i++)
        keep[nk++] = lfd[i];
    keep[nk++] = host_ns;
    close_all_but(keep, nk);
    sigset_t chld;
    sigemptyset(&chld);
    sigaddset(&chld, SIGCHLD);
    sigprocmask(SIG_SETMASK, &chld, NULL); /* the relay's other signals unblocked */
    int sfd = signalfd(-1, &chld, SFD_CLOEXEC | SFD_NONBLOCK);
    if (sfd < 0)
        _exit(1);
    unsigned active = 0;
    struct pollfd p[OCI_MAX_PORTS + 1];
    for (;;) {
        for (size_t i = 0; i < n; i++)
            p[i] = (struct pollfd){ .fd = active < MAX_CONNECTIONS ? lfd[i] : -1,
                                    .events = POLLIN };
        p[n] = (struct pollfd){ .fd = sfd, .events = POLLIN };
        if (poll(p, n + 1, -1) < 0)
            continue;
        if (p[n].revents) {
            struct signalfd_siginfo si;
            while (read(sfd, &si, sizeof si) == (ssize_t)sizeof si) {
            }
            while (waitpid(-1, NULL, WNOHANG) > 0)
                active--;
        }
        for (size_t i = 0; i < n; i++) {
            if (!p[i].revents)
                continue;
            int c = accept4(lfd[i], NULL, NULL, SOCK_CLOEXEC);
            if (c < 0)
                continue;
            pid_t k = fork();
            if (k == 0) {
                close(sfd);
                sigprocmask(SIG_UNBLOCK, &chld, NULL);
                carry(c, host_ns, hp[i]);
            }
            if (k > 0)
                active++;
            close(c);
        }
    }
}

int relay_ports_start(boxlite_box *box, const struct oci_spec *s, int host_ns,
                      struct bl_error *err)
{
    if (!s->netns) /* the proxy would listen on the host's own ports */
        return bl_err(err, BOXLITE_ERR_INVALID, "annotation io.boxlite.ports needs a network "
                      "namespace (linux.namespaces \"network\")");
    char *info = NULL;
    if (boxlite_box_info(box, &info) != BOXLITE_OK)
        return bl_err(err, BOXLITE_ERR_ENGINE, "published ports: %s", boxlite_errmsg());
    int lfd[OCI_MAX_PORTS], hp[OCI_MAX_PORTS];
    size_t n = 0;
    int rc = 0;
    for (; n < s->nports; n++) {
        hp[n] = host_port_of(info, s->ports[n]);
        /* listening now, in the container's namespace: connections that arrive before the
         * guest's server listens wait in the backlog instead of being refused */
        struct sockaddr_in6 a = { .sin6_family = AF_INET6, .sin6_port = htons(s->ports[n]) };
        int one = 1, zero = 0;
        lfd[n] = socket(AF_INET6, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (hp[n] < 0 || lfd[n] < 0 ||
            setsockopt(lfd[n], SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) < 0 ||
            setsockopt(lfd[n], IPPROTO_IPV6, IPV6_V6ONLY, &zero, sizeof zero) < 0 ||
            bind(lfd[n], (struct sockaddr *)&a, sizeof a) < 0 || listen(lfd[n], 64) < 0) {
            rc = hp[n] < 0 ? bl_err(err, BOXLITE_ERR_ENGINE, "published port %u: the box has "
                                    "no forward for it", s->ports[n])
                           : bl_errno(err, errno, "published port %u: listen in the "
                                      "container's network namespace", s->ports[n]);
            if (lfd[n] >= 0)
                close(lfd[n]);
            break;
        }
    }
    boxlite_free(info);
    pid_t pid = rc ? -1 : fork();
    if (pid == 0)
        proxy(lfd, hp, n, host_ns);
    if (!rc && pid < 0)
        rc = bl_errno(err, errno, "published ports: fork");
    for (size_t i = 0; i < n; i++)
        close(lfd[i]);
    return rc;
}
