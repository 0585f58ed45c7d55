// SPDX-License-Identifier: Apache-2.0
/* The shared helpers of src/common: clocks, whole reads and writes, mkdir -p, /proc/<pid>/stat,
 * the OCI architecture name, box-folder paths, where the last lines of a text begin. */
#include "common/boxpath.h"
#include "common/clock.h"
#include "common/hostarch.h"
#include "common/io.h"
#include "common/lines.h"
#include "common/procstat.h"
#include "harness/harness.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

TEST(clocks_agree_and_move_forward)
{
    uint64_t a = mono_ns(), b = mono_ns();
    CHECK(b >= a);
    CHECK(mono_ms() >= a / 1000000u);
    CHECK(mono_us() >= a / 1000u);
    CHECK(wall_ms() > 1600000000000ull); /* after 2020 */
    CHECK(wall_ns() / 1000000u >= wall_ms() - 1000);
    CHECK(boot_ns() > 0);
}

TEST(proc_stat_parses_a_name_with_spaces_and_parentheses)
{
    struct proc_stat ps;
    const char *t = "42 (a) b (c)) S 1 42 42 0 -1 4194560 100 0 0 0 7 9 0 0 20 0 1 0 123456 "
                    "1000 10 18446744073709551615\n";
    REQUIRE(proc_stat_parse(t, &ps) == 0);
    CHECK_EQ(ps.state, 'S');
    CHECK_EQ(ps.utime, 7);
    CHECK_EQ(ps.stime, 9);
    CHECK_EQ(ps.starttime, 123456);
    CHECK_EQ(proc_stat_parse("42 (x) Z 1 2", &ps), -ESRCH); /* cut before field 22 */
    CHECK_EQ(proc_stat_parse("42 x S 1 2", &ps), -ESRCH);   /* no ')' */
    CHECK_EQ(proc_stat_parse("", &ps), -ESRCH);
}

TEST(proc_stat_reads_this_process_and_not_a_missing_one)
{
    struct proc_stat ps;
    REQUIRE(proc_stat_read(getpid(), &ps) == 0);
    CHECK_EQ(ps.state, 'R');
    CHECK(ps.starttime > 0);
    CHECK(proc_stat_read(0x7ffffffe, &ps) < 0);
}

TEST(write_all_and_read_full_move_every_byte_through_a_pipe)
{
    int p[2];
    REQUIRE(pipe(p) == 0);
    fcntl(p[1], F_SETFL, O_NONBLOCK); /* a full pipe: EAGAIN, waited on, not an error */
    static char out[300000], in[300000];
    for (size_t i = 0; i < sizeof out; i++)
        out[i] = (char)(i * 7);
    pid_t pid = fork();
    REQUIRE(pid >= 0);
    if (pid == 0) {
        close(p[0]);
        _exit(io_write_all(p[1], out, sizeof out) == 0 ? 0 : 1);
    }
    close(p[1]);
    CHECK_EQ(io_read_full(p[0], in, sizeof in), (ssize_t)sizeof in);
    CHECK(memcmp(in, out, sizeof in) == 0);
    CHECK_EQ(io_read_full(p[0], in, 10), 0); /* end of file */
    int st;
    waitpid(pid, &st, 0);
    CHECK(WIFEXITED(st) && WEXITSTATUS(st) == 0);
    close(p[0]);
}

TEST(write_all_reports_a_closed_reader_and_a_deadline)
{
    int p[2];
    REQUIRE(pipe(p) == 0);
    signal(SIGPIPE, SIG_IGN);
    fcntl(p[1], F_SETFL, O_NONBLOCK);
    static char big[1 << 20];
    CHECK_EQ(io_write_all_until(p[1], big, sizeof big, (int64_t)mono_ms() + 50), -ETIMEDOUT);
    close(p[0]);
    CHECK_EQ(io_write_all(p[1], "x", 1), -EPIPE);
    close(p[1]);
}

TEST(mkdir_p_makes_parents_with_the_mode_and_accepts_existing)
{
    char path[512];
    struct bl_error err = {0};
    snprintf(path, sizeof path, "%s/a/b/c", harness_tmpdir());
    REQUIRE(mkdir_p(path, 0700, &err) == 0);
    struct stat st;
    REQUIRE(stat(path, &st) == 0);
    CHECK(S_ISDIR(st.st_mode));
    CHECK_EQ(st.st_mode & 0777, 0700);
    CHECK_EQ(mkdir_p(path, 0700, &err), 0);
    char file[600];
    snprintf(file, sizeof file, "%s/f", path);
    close(open(file, O_CREAT | O_WRONLY, 0600));
    snprintf(file, sizeof file, "%s/f/g", path);
    CHECK(mkdir_p(file, 0700, &err) < 0);
    CHECK(strstr(err.msg, "/f/g") != NULL);
}

TEST(oci_arch_names)
{
    CHECK_STR(oci_arch_of("x86_64"), "amd64");
    CHECK_STR(oci_arch_of("aarch64"), "arm64");
    CHECK_STR(oci_arch_of("riscv64"), "riscv64");
    CHECK(*host_oci_arch() != 0);
}

TEST(box_paths)
{
    char p[64];
    CHECK_EQ(box_file_path(p, sizeof p, "/h/boxes/x", BOX_VMM_LOG, 0), 0);
    CHECK_STR(p, "/h/boxes/x/vmm.log");
    CHECK_EQ(box_file_path(p, sizeof p, "/h/boxes/x", BOX_CONSOLE_LOG, 1), 0);
    CHECK_STR(p, "/h/boxes/x/console.log.1");
    CHECK_EQ(box_file_path(p, sizeof p, "/h/boxes/x", BOX_DISK, 0), 0);
    CHECK_STR(p, "/h/boxes/x/disk.qcow2");
    CHECK_EQ(box_dir_path(p, sizeof p, "/h", "abc"), 0);
    CHECK_STR(p, "/h/boxes/abc");
    CHECK_EQ(box_file_path(p, 8, "/h/boxes/x", BOX_EXIT_JSON, 0), -1); /* does not fit */
    CHECK_STR(box_file_name(BOX_EXIT_KVM), "exit-kvm.json");
}

/* /proc/<pid>/smaps (procstat.h): the resident bytes of the memory file's mapping, or of the
 * anonymous mapping of guest RAM's exact size, and of all; a file named like the memory
 * file's path with a suffix, or a line cut short, is not taken for it. */
TEST(smaps_picks_the_guest_ram_mapping)
{
    static const char *const lines[] = {
        "555743929000-555743d30000 r-xp 00000000 fe:00 123 /usr/bin/qemu-system-x86_64\n",
        "Size:               4124 kB\n",
        "Rss:                4000 kB\n",
        "7f4b5ffff000-7f4b7ffff000 rw-s 00000000 fe:00 99 /box/memory\n",
        "Rss:               29452 kB\n",
        "7f4b80000000-7f4ba0000000 rw-p 00000000 00:00 0 \n",
        "Rss:                  12 kB\n",
        "7f4ba0000000-7f4ba0001000 rw-s 00000000 fe:00 98 /box/memory (deleted)\n",
        "Rss:                   4 kB\n",
        "Rss: 99999999999999999 kB\n", /* absurd: ignored */
        "7f4c00000000-7f4c00001000 rw-s 00000000 fe:00 97 /box/memoryX\n",
        "Rss:                   4 kB\n",
    };
    struct proc_smaps a = { .path = "/box/memory" }, b = { .anon_size = 512u << 20 };
    for (size_t i = 0; i < sizeof lines / sizeof *lines; i++) {
        proc_smaps_line(&a, lines[i]);
        proc_smaps_line(&b, lines[i]);
    }
    CHECK_EQ(a.match_rss, 29452ull * 1024);
    CHECK_EQ(a.rss, (4000ull + 29452 + 12 + 4 + 4) * 1024);
    CHECK_EQ(b.match_rss, 12ull * 1024); /* 0x20000000 bytes = 512 MiB, anonymous */
    CHECK_EQ(b.rss, a.rss);
    struct proc_smaps self = { .path = "/nonexistent" };
    REQUIRE(proc_smaps_read(getpid(), &self) == 0);
    CHECK(self.rss > 0);
    CHECK_EQ(self.match_rss, 0);
    CHECK(proc_smaps_read(-5, &self) < 0);
}

TEST(lines_tail_start_finds_the_last_lines)
{
    const char *t = "a\nbb\nccc\n";
    size_t n = strlen(t);
    CHECK_EQ(lines_tail_start(t, n, 1), 5);   /* "ccc\n" */
    CHECK_EQ(lines_tail_start(t, n, 2), 2);   /* "bb\nccc\n" */
    CHECK_EQ(lines_tail_start(t, n, 3), 0);
    CHECK_EQ(lines_tail_start(t, n, 9), 0);   /* fewer lines than asked: all */
    CHECK_EQ(lines_tail_start(t, n, 0), n);   /* none */
    CHECK_EQ(lines_tail_start("a\nb", 3, 1), 2); /* a last line without its newline */
    CHECK_EQ(lines_tail_start("", 0, 1), 0);
    CHECK_EQ(lines_tail_start("\n\n", 2, 1), 1);
}
