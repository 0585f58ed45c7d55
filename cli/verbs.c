// SPDX-License-Identifier: Apache-2.0
/* The verbs and their flags: the one table the parser, --help, `boxlite help`, the man
 * pages and the shell completions all read (cli/args.c, cli/completion.c). A flag added
 * here is parsed, documented and completed; the verb's code switches on its id. */
#include "cli.h"

/* run and create: what a box is made of. */
static const struct cli_flag box_flag_table[] = {
    { FL_NAME, 0, "name", "NAME", "a generated name", "The box's name", false },
    { FL_ENV, 'e', "env", "KEY=VALUE", NULL, "Set an environment variable (KEY alone: take it from ours)", true },
    { FL_ENV_FILE, 0, "env-file", "FILE", NULL, "Read KEY=VALUE lines (# comments) into the environment", true },
    { FL_READ_ONLY, 0, "read-only", NULL, NULL, "Mount the box's root file system read-only (volumes keep their mode; /dev/shm stays writable)", false },
    { FL_RESTART, 0, "restart", "no|on-failure[:N]|always|unless-stopped", "no", "Run the main process again when it ends (always, unless-stopped) or ends with a non-zero status (on-failure, N times at most); the box's agent does it (boxlite run --help)", false },
    { FL_HOSTNAME, 0, "hostname", "NAME", "the box's name", "The box's host name", false },
    { FL_LABEL, 'l', "label", "KEY[=VALUE]", NULL, "Add a label (metadata for ps --filter label=, not seen by the box)", true },
    { FL_WORKDIR, 'w', "workdir", "DIR", "the image's", "Working directory of commands in the box", false },
    { FL_USER, 'u', "user", "USER[:GROUP]", "the image's", "User of commands in the box", false },
    { FL_VOLUME, 'v', "volume", "HOST:GUEST[:ro|rw]", NULL, "Share a host directory with the box", true },
    { FL_PUBLISH, 'p', "publish", "[IP:]HOST:GUEST[/tcp|udp]", NULL, "Forward a host port to the box: ports or ranges of one length (8000-8010:80-90); HOST 0 or empty: any free port; IP 127.0.0.1 unless given (IPv4). (No -P: a box publishes only what -p names.)", true },
    { FL_CPUS, 0, "cpus", "N", "1", "Virtual CPUs", false },
    { FL_MEMORY, 'm', "memory", "SIZE", "512m", "Memory (512m, 2g)", false },
    { FL_DISK_SIZE, 0, "disk-size", "SIZE", "the image's size plus room", "Size of the box's disk, whole gigabytes (10g)", false },
    { FL_ENGINE, 0, "engine", "auto|kvm|qemu", "auto", "The engine that runs the VM (auto: KVM when usable, else QEMU)", false },
    { FL_CPU_TEMPLATE, 0, "cpu-template", "auto|v3|baseline|host", "auto", "CPU the KVM engine's guest sees", false },
    { FL_NETWORK, 0, "network", "default|none", "default", "Network mode (none: no interface)", false },
    { FL_NO_NETWORK, 0, "no-network", NULL, NULL, "Same as --network none", false },
    { FL_ALLOW_NET, 0, "allow-net", "RULE", NULL, "Allow only these destinations (IP, CIDR or host name, optionally :PORT)", true },
    { FL_DENY_NET, 0, "deny-net", "RULE", NULL, "Refuse this destination (wins over --allow-net)", true },
    { FL_ALLOW_HOST, 0, "allow-host", "PORT[/udp]", NULL, "Let the box reach this port of the host's loopback at 10.0.2.2", true },
    { FL_ENTRYPOINT, 0, "entrypoint", "PROGRAM", "the image's", "Replace the image's Entrypoint (\"\" for none)", false },
    { FL_HEALTH_CMD, 0, "health-cmd", "COMMAND", "the image's", "Health check, a shell command", false },
    { FL_HEALTH_INTERVAL, 0, "health-interval", "DURATION", "30s", "Time between health checks", false },
    { FL_HEALTH_TIMEOUT, 0, "health-timeout", "DURATION", "30s", "Time a health check may take", false },
    { FL_HEALTH_RETRIES, 0, "health-retries", "N", "3", "Failures in a row that make the box unhealthy", false },
    { FL_HEALTH_START, 0, "health-start-period", "DURATION", "0s", "Time after start when failures do not count", false },
    { FL_NO_HEALTHCHECK, 0, "no-healthcheck", NULL, NULL, "Disable the image's health check", false },
    { FL_LOG_OPT, 0, "log-opt", "max-size=SIZE|max-file=N", "max-size=1m, max-file=2", "Rotation of the box's logs", true },
    { FL_RM, 0, "rm", NULL, NULL, "Remove the box when it stops", false },
    { FL_INTERACTIVE, 'i', "interactive", NULL, NULL, "Keep our standard input open to the command (with -d, and for create: the main process's stays open for attach)", false },
    { FL_TTY, 't', "tty", NULL, NULL, "Give the command a terminal (with -d, and for create: the main process runs on one, for attach)", false },
    { FL_IDLE_PAUSE, 0, "idle-pause", "DURATION", "never", "Pause the box (memory saved, nothing runs) after this long without an exec, copy or other use (30s, 5m); its next use resumes it", false },
    { FL_BALLOON_TARGET, 0, "balloon-target", "SIZE", "none", "Guest memory the box may keep (e.g. 128m, at least 32m, at most --memory): the balloon holds the rest", false },
    { FL_NO_PAGE_REPORTING, 0, "no-page-reporting", NULL, NULL, "Keep memory the guest frees with the box (free page reporting gives it back to the host by default)", false },
    { FL_KSM, 0, "ksm", NULL, NULL, "Let the host's KSM merge this box's identical pages with other boxes' (saves memory, but opens a side channel between boxes: only for boxes that trust each other)", false },
    { FL_PLATFORM, 0, "platform", "OS/ARCH[/VARIANT]", "the host's", "Run the image's variant for this platform (linux/arm64, linux/amd64); another architecture than the host's runs under QEMU's TCG, much slower", false },
    { 0 },
};

static const struct cli_flag run_only[] = {
    { FL_DETACH, 'd', "detach", NULL, NULL, "Run the command as the box's main process in the background and print the box's id", false },
    { 0 },
};

static const struct cli_flag *const run_flags[] = { run_only, box_flag_table, NULL };
static const struct cli_flag *const create_flags[] = { box_flag_table, NULL };

static const struct cli_flag exec_table[] = {
    { FL_DETACH, 'd', "detach", NULL, NULL, "Start the command and return: it runs on its own, its output in the box's log", false },
    { FL_INTERACTIVE, 'i', "interactive", NULL, NULL, "Keep our standard input open to the command", false },
    { FL_TTY, 't', "tty", NULL, NULL, "Give the command a terminal", false },
    { FL_ENV, 'e', "env", "KEY=VALUE", NULL, "Set an environment variable", true },
    { FL_WORKDIR, 'w', "workdir", "DIR", "the box's", "Working directory", false },
    { FL_USER, 'u', "user", "USER[:GROUP]", "the box's", "User", false },
    { 0 },
};
static const struct cli_flag *const exec_flags[] = { exec_table, NULL };

static const struct cli_flag stop_table[] = {
    { FL_TIME, 't', "time", "SECONDS", "10", "Time the box has to stop gracefully before it is killed", false },
    { 0 },
};
static const struct cli_flag *const stop_flags[] = { stop_table, NULL };

static const struct cli_flag kill_table[] = {
    { FL_SIGNAL, 's', "signal", "SIGNAL", "KILL", "The signal, by name (TERM, SIGHUP) or number", false },
    { 0 },
};
static const struct cli_flag *const kill_flags[] = { kill_table, NULL };

static const struct cli_flag rm_table[] = {
    { FL_FORCE, 'f', "force", NULL, NULL, "Stop a running box before removing it", false },
    { FL_ALL, 'a', "all", NULL, NULL, "Remove every stopped or created box (with -f, every box)", false },
    { 0 },
};
static const struct cli_flag *const rm_flags[] = { rm_table, NULL };

static const struct cli_flag ps_table[] = {
    { FL_ALL, 'a', "all", NULL, NULL, "Show every box (default: running ones)", false },
    { FL_QUIET, 'q', "quiet", NULL, NULL, "Print only the boxes' IDs", false },
    { FL_FILTER, 'f', "filter", "KEY=VALUE", NULL, "Only boxes that match: id=PREFIX, name=PART, state=STATE (status=), label=KEY[=VALUE]", true },
    { FL_FORMAT, 0, "format", "table|json|TEMPLATE", "table", "How to print each box (fields above)", false },
    { FL_NO_TRUNC, 0, "no-trunc", NULL, NULL, "Whole IDs and commands", false },
    { FL_JSON, 0, "json", NULL, NULL, "Print the boxes' full records as one JSON array", false },
    { 0 },
};
static const struct cli_flag *const ps_flags[] = { ps_table, NULL };

static const struct cli_flag logs_table[] = {
    { FL_FOLLOW, 'f', "follow", NULL, NULL, "Keep printing what the box writes until it stops", false },
    { FL_TAIL, 'n', "tail", "N|all", "all", "Only the last N lines (then follow with -f)", false },
    { FL_RAW, 0, "raw", NULL, NULL, "Pass control characters through to the terminal", false },
    { FL_VMM, 0, "vmm", NULL, NULL, "The per-box process's own log instead of the console", false },
    { FL_TIMESTAMPS, 't', "timestamps", NULL, NULL, "Start each line with the time it arrived (RFC 3339, UTC)", false },
    { FL_SINCE, 0, "since", "TIME", NULL, "Only lines that arrived at or after TIME (10m, 1h30m, 2026-12-04T18:00:00Z)", false },
    { FL_UNTIL, 0, "until", "TIME", NULL, "Only lines that arrived at or before TIME (same forms)", false },
    { 0 },
};
static const struct cli_flag *const logs_flags[] = { logs_table, NULL };

static const struct cli_flag cp_table[] = {
    { FL_MAX_SIZE, 0, "max-size", "SIZE", "no limit", "Refuse a copy out of the box larger than this", false },
    { 0 },
};
static const struct cli_flag *const cp_flags[] = { cp_table, NULL };

static const struct cli_flag inspect_table[] = {
    { FL_FORMAT, 'f', "format", "TEMPLATE", "JSON", "One line per box: the template over its record ({{.State}}, {{.Engine}}, {{json .Ports}})", false },
    { 0 },
};
static const struct cli_flag *const inspect_flags[] = { inspect_table, NULL };

static const struct cli_flag stats_table[] = {
    { FL_NO_STREAM, 0, "no-stream", NULL, NULL, "Print one table and exit", false },
    { FL_FORMAT, 0, "format", "table|json|TEMPLATE", "table", "How to print each box (fields above)", false },
    { FL_JSON, 0, "json", NULL, NULL, "Print the library's metrics of each box once, as JSON", false },
    { 0 },
};
static const struct cli_flag *const stats_flags[] = { stats_table, NULL };

static const struct cli_flag restart_table[] = {
    { FL_TIME, 't', "time", "SECONDS", "10", "Time the box has to stop gracefully before it is killed", false },
    { 0 },
};
static const struct cli_flag *const restart_flags[] = { restart_table, NULL };

static const struct cli_flag prune_table[] = {
    { FL_FORCE, 'f', "force", NULL, NULL, "Do not ask for confirmation", false },
    { 0 },
};
static const struct cli_flag *const prune_flags[] = { prune_table, NULL };

static const struct cli_flag attach_table[] = {
    { FL_RAW, 0, "raw", NULL, NULL, "Pass control characters through to the terminal", false },
    { FL_NO_STDIN, 0, "no-stdin", NULL, NULL, "Do not send our input to a box created with -i", false },
    { FL_SIG_PROXY, 0, "sig-proxy", NULL, "true", "Send the signals we get (Ctrl-C's SIGINT, SIGTERM, ...) to the main process; =false: Ctrl-C detaches", false },
    { 0 },
};
static const struct cli_flag *const attach_flags[] = { attach_table, NULL };

static const struct cli_flag pull_table[] = {
    { FL_QUIET, 'q', "quiet", NULL, NULL, "No progress", false },
    { FL_PLATFORM, 0, "platform", "OS/ARCH[/VARIANT]", "the host's", "Pull the image's variant for this platform (linux/arm64, linux/amd64), the one `run --platform` runs", false },
    { 0 },
};
static const struct cli_flag *const pull_flags[] = { pull_table, NULL };

static const struct cli_flag images_table[] = {
    { FL_QUIET, 'q', "quiet", NULL, NULL, "Print only the images' IDs", false },
    { FL_FORMAT, 0, "format", "table|json|TEMPLATE", "table", "How to print each image (fields above)", false },
    { FL_NO_TRUNC, 0, "no-trunc", NULL, NULL, "Whole IDs", false },
    { FL_JSON, 0, "json", NULL, NULL, "Print the images' records as one JSON array", false },
    { 0 },
};
static const struct cli_flag *const images_flags[] = { images_table, NULL };

static const struct cli_flag rmi_table[] = {
    { FL_FORCE, 'f', "force", NULL, NULL, "Remove an image even while boxes were created from it", false },
    { 0 },
};
static const struct cli_flag *const rmi_flags[] = { rmi_table, NULL };

static const struct cli_flag doctor_table[] = {
    { FL_JSON, 0, "json", NULL, NULL, "Print the report as JSON", false },
    { FL_IMAGE, 0, "image", "REF", "a busybox rootfs from /bin/busybox", "Image of the smoke box", false },
    { FL_ENGINE, 0, "engine", "kvm|qemu", "every usable engine", "Check only this engine", false },
    { FL_NO_SMOKE, 0, "no-smoke", NULL, NULL, "Boot no smoke box", false },
    { 0 },
};
static const struct cli_flag *const doctor_flags[] = { doctor_table, NULL };

static const struct cli_flag help_table[] = {
    { FL_MAN, 0, "man", "DIR", NULL, "Write the man pages (boxlite.1, boxlite-VERB.1) into DIR", false },
    { 0 },
};
static const struct cli_flag *const help_flags[] = { help_table, NULL };

static const struct cli_flag reclaim_table[] = {
    { FL_IDLE, 0, "idle", "DURATION", "0 (every running box)", "Only boxes without an exec, copy or other use for this long (30s, 5m)", false },
    { 0 },
};
static const struct cli_flag *const reclaim_flags[] = { reclaim_table, NULL };

static const struct cli_flag *const no_flags[] = { NULL };

static const struct cli_flag serve_table[] = {
    { FL_LISTEN, 0, "listen", "ADDR:PORT", "127.0.0.1:8100", "Address to serve on ([::1]:8100 for IPv6; port 0: any free one, printed)", false },
    { FL_CREDENTIALS, 0, "credentials", "FILE", NULL, "The clients' credentials file (boxlite serve credentials add); required", false },
    { FL_TLS_CERT, 0, "tls-cert", "FILE", NULL, "TLS certificate (PEM); with --tls-key the server speaks HTTPS", false },
    { FL_TLS_KEY, 0, "tls-key", "FILE", NULL, "TLS private key (PEM)", false },
    { FL_INSECURE, 0, "insecure", NULL, NULL, "Allow a non-loopback --listen without TLS (tokens travel in clear text)", false },
    { FL_TOKEN_TTL, 0, "token-ttl", "SECONDS", "3600", "Lifetime of the access tokens issued", false },
    { FL_ROOTFS_DIR, 0, "rootfs-dir", "DIR", NULL, "Folder of root file systems that clients may name as rootfs_path", false },
    { FL_MAX_BOXES, 0, "max-boxes", "N", "50", "Boxes per prefix (tenant)", false },
    { FL_RATE, 0, "rate", "N", "50", "Requests per second each token may make (as many at once); 0: no limit", false },
    { FL_MAX_FILE_BYTES, 0, "max-file-bytes", "N", "268435456", "Bytes a files upload or download may carry", false },
    { FL_REGISTRY_CREDENTIALS, 0, "registry-credentials", NULL, NULL, "Let every client's pulls use this host's registry credentials (Docker's config, registries.json); default: anonymous pulls", false },
    { FL_SCOPES, 0, "scopes", "LIST", "every scope but runtime:admin", "credentials add: the client's scopes, comma-separated", false },
    { 0 },
};
static const struct cli_flag *const serve_flags[] = { serve_table, NULL };

static const struct cli_flag snapshot_table[] = {
    { FL_JSON, 0, "json", NULL, NULL, "ls: print the snapshots as a JSON array", false },
    { 0 },
};
static const struct cli_flag *const snapshot_flags[] = { snapshot_table, NULL };
static const struct cli_flag import_table[] = {
    { FL_NAME, 0, "name", "NAME", "the archive's", "The new box's name", false },
    { 0 },
};
static const struct cli_flag *const import_flags[] = { import_table, NULL };

#define FORMAT_RULES                                                                       \
    "--format table: the columns below; json: one JSON object per line with these fields;\n" \
    "TEMPLATE: text with {{.Field}} (or {{json .Field}}, {{json .}}) for each, \\t a tab;\n"  \
    "\"table TEMPLATE\": aligned columns under a header.\n"
#define PS_DETAILS                                                                         \
    FORMAT_RULES                                                                           \
    "Fields: .ID (12 hex digits, all 32 with --no-trunc), .Name, .Image, .Command (the main\n" \
    "process), .Created (Unix seconds), .CreatedAt, .RunningFor (\"5m ago\"), .State\n"       \
    "(configured, starting, running, stopping, stopped), .Status (the state and why),\n"    \
    ".Ports, .Labels (k=v,...), .Engine, .ExitCode (of a stopped box's main process).\n"    \
    "-q and --format apply to the boxes the filters keep; a state filter looks at every box."
#define PS_EXAMPLE                                                                         \
    "boxlite ps -a\nboxlite ps -q --filter state=stopped\n"                                 \
    "boxlite ps --format '{{.ID}} {{.Name}}'\nboxlite ps --format 'table {{.Name}}\\t{{.Status}}'"
#define IMAGES_DETAILS                                                                     \
    FORMAT_RULES                                                                           \
    "Fields: .ID (12 hex digits, all 64 with --no-trunc), .Ref (the whole reference),\n"    \
    ".Repository, .Tag (a tag or @digest), .Size, .Bytes, .Layers, .CreatedAt (the image's)."
#define IMAGES_EXAMPLE "boxlite images\nboxlite images -q\nboxlite images --format '{{.Repository}}:{{.Tag}} {{.Size}}'"

const struct cli_verb cli_verbs[] = {
    { "run", "IMAGE|ROOTFS-DIR [COMMAND [ARG...]]", "Create and start a box, run a command in it",
      "boxlite run --rm alpine echo hello\nboxlite run -it --name dev -v $PWD:/src alpine sh\n"
      "boxlite run -d --name web -p 8080:80 nginx",
      "Without -d the command (default /bin/sh) runs in the box and its output and exit status\n"
      "are ours; the box stops when it ends (and goes with --rm). With -d, COMMAND (else the\n"
      "image's Cmd) is the box's main process: its output is the box's log (boxlite logs) and\n"
      "its end stops the box. A path (/... or ./...) instead of an image runs that folder.\n"
      "--restart: the box's agent runs the main process again in the same container when it\n"
      "ends, after Docker's back-off (100 ms, doubling, reset after 10 s of running); the box\n"
      "keeps running meanwhile, whoever started it, and inspect shows RestartCount. A box\n"
      "stopped on request is left stopped. A VM that dies (kernel panic, its process killed,\n"
      "a host reboot) is started again by the next boxlite command (with no daemon, opening\n"
      "the runtime is where that can happen), with the same back-off and on-failure's count;\n"
      "unless-stopped is always here. There is no --init: the\n"
      "agent is the VM's PID 1 and each box's container has an init of its own that reaps\n"
      "orphans, so a main process never runs as PID 1 without one. No -P: only what -p names\n"
      "is published.",
      run_flags, cmd_run, 1, -1, true, "image", NULL },
    { "exec", "BOX COMMAND [ARG...]", "Run a command in a running box",
      "boxlite exec web ls /\nboxlite exec -it web sh", NULL, exec_flags, cmd_exec, 2, -1, true, "box", NULL },
    { "create", "IMAGE|ROOTFS-DIR [COMMAND [ARG...]]", "Create a box (does not start it)",
      "boxlite create --name db -e POSTGRES_PASSWORD=x postgres",
      "COMMAND (or --entrypoint) becomes the box's main process when it starts.",
      create_flags, cmd_create, 1, -1, true, "image", NULL },
    { "start", "BOX [BOX...]", "Start created or stopped boxes", "boxlite start web", NULL,
      no_flags, cmd_start, 1, -1, false, "box", NULL },
    { "stop", "BOX [BOX...]", "Stop running boxes", "boxlite stop -t 30 web", NULL, stop_flags,
      cmd_stop, 1, -1, false, "box", NULL },
    { "kill", "BOX [BOX...]", "Send a signal to the main process of running boxes",
      "boxlite kill web\nboxlite kill -s HUP web",
      "The signal goes to the box's main process (run -d IMAGE COMMAND) alone, as Docker's\n"
      "kill sends it to the container's first process. SIGKILL (the default) ends it, and the\n"
      "box stops with status 137 unless its --restart policy runs it again. A box whose main\n"
      "process is not running (none given, ended, waiting to restart) is an error.",
      kill_flags, cmd_kill, 1, -1, false, "box", NULL },
    { "rm", "BOX [BOX...]", "Remove boxes", "boxlite rm -f web\nboxlite rm -a", NULL, rm_flags,
      cmd_rm, 0, -1, false, "box", NULL },
    { "ps", "", "List boxes", PS_EXAMPLE, PS_DETAILS, ps_flags, cmd_ps, 0, 0, false, "", NULL },
    { "ls", "", "List boxes (same as ps)", PS_EXAMPLE, PS_DETAILS, ps_flags, cmd_ps, 0, 0, false, "", "ps" },
    { "inspect", "BOX [BOX...]", "Show boxes as JSON",
      "boxlite inspect web\nboxlite inspect -f '{{.State}} {{.ExitCode}}' web",
      "--format takes the template of ps --format over the box's record (the JSON that inspect\n"
      "prints); field names match its keys ignoring case and underscores.",
      inspect_flags, cmd_inspect, 1, -1, false, "box", NULL },
    { "restart", "BOX [BOX...]", "Stop boxes (if running) and start them again",
      "boxlite restart web",
      "A paused box is stopped too (its saved memory is dropped) and starts cold.",
      restart_flags, cmd_restart, 1, -1, false, "box", NULL },
    { "wait", "BOX [BOX...]", "Wait until boxes stop; print their exit status",
      "boxlite wait job",
      "Prints each box's status when it stops: its main process's exit status (128+N for a\n"
      "signal), 137 if the OOM killer ended it, 0 when it was stopped on request, 255 when it\n"
      "stopped by itself without a status (its VM died). Exits with the last one's. A paused\n"
      "box has not stopped: wait goes on until it resumes and stops.",
      no_flags, cmd_wait, 1, -1, false, "box", NULL },
    { "port", "BOX [GUEST-PORT[/tcp|/udp]]", "List a box's published ports",
      "boxlite port web\nboxlite port web 80/tcp",
      "A port published as host port 0 shows the port chosen once the box runs.",
      no_flags, cmd_port, 1, 2, false, "box", NULL },
    { "rename", "BOX NEW-NAME", "Rename a box", "boxlite rename web web-old",
      "A running box keeps its host name until it restarts.", no_flags, cmd_rename, 2, 2, false,
      "box", NULL },
    { "pause", "BOX [BOX...]", "Save boxes' memory and end their VMs (nothing runs)",
      "boxlite pause web",
      "The box's memory and device state go to its folder and its VM process ends; the box\n"
      "is paused (ps) and outlives every boxlite process. resume, exec, cp or start restores\n"
      "it: its processes, open files and tmpfs contents go on where they were; network\n"
      "connections are dropped. Refused while executions or copies are open, for a box with\n"
      "volumes (-v), and on the KVM engine (QEMU engine only).",
      no_flags, cmd_pause, 1, -1, false, "box", NULL },
    { "resume", "BOX [BOX...]", "Resume paused boxes", "boxlite resume web", NULL, no_flags,
      cmd_resume, 1, -1, false, "box", NULL },
    { "fork", "BOX NEW-NAME [NEW-NAME...]", "New running boxes from a box's memory and disk",
      "boxlite fork py warm1 warm2 warm3",
      "Each new box starts where BOX is now (its processes, files and memory), sharing the\n"
      "unchanged memory and disk copy-on-write, with its own id, name, host name, MAC, clock\n"
      "and reseeded RNG; its network connections are dropped. A running BOX is paused for\n"
      "the copy and resumed. Prints the new boxes' ids.",
      no_flags, cmd_fork, 2, -1, false, "box", NULL },
    { "prune", "", "Remove every stopped box", "boxlite prune -f",
      "Boxes stopped or created but never started go; running boxes stay.", prune_flags,
      cmd_prune, 0, 0, false, "", NULL },
    { "attach", "BOX", "Follow the output of a box's main process until it stops",
      "boxlite run -d --name job alpine sh -c 'sleep 5; echo done; exit 3'\nboxlite attach job\n"
      "boxlite run -d -i --name calc alpine bc\necho 6*7 | boxlite attach calc\n"
      "boxlite run -dit --name shell alpine sh\nboxlite attach shell",
      "The main process (run -d IMAGE COMMAND) writes to the box's console, which attach\n"
      "follows from now on (earlier output: boxlite logs). A box created with -i (run -d -i,\n"
      "create -i) keeps its main process's standard input open: attach sends ours there\n"
      "(--no-stdin: not); our end of file leaves it open for the next attach, as Docker's\n"
      "does. Otherwise its standard input is /dev/null. When the box stops, attach exits\n"
      "with the status boxlite wait prints. The signals attach gets (SIGINT from Ctrl-C,\n"
      "SIGTERM, SIGHUP, SIGQUIT, SIGUSR1, SIGUSR2) go to the main process, as boxlite kill\n"
      "sends them; with --sig-proxy=false Ctrl-C detaches and leaves the box running.\n"
      "A box made with -t (run -dit) has its main process on a terminal: attach puts ours\n"
      "in raw mode, keys (Ctrl-C too) are typed on the box's, its window follows ours, and\n"
      "Ctrl-P Ctrl-Q detaches.",
      attach_flags, cmd_attach, 1, 1, false, "box", NULL },
    { "top", "BOX [PS-OPTIONS...]", "Show the processes running in a box",
      "boxlite top web\nboxlite top web -o pid,user,args",
      "Runs the image's ps in the box (arguments as given, default -ef). An image without ps\n"
      "gets PID and command of each process read from /proc by its /bin/sh.",
      no_flags, cmd_top, 1, -1, true, "box", NULL },
    { "logs", "BOX", "Show a box's console log", "boxlite logs -f web\nboxlite logs -t --since 10m web\nboxlite logs --since 2026-12-04T18:00:00Z --until 1h web",
      "The console holds the guest's messages and the output of the box's main process.\n"
      "On a terminal the box's control characters are shown, not obeyed, unless --raw.\n"
      "TIME is a duration back from now (10m, 1h30m, 1.5h, 250ms), an RFC 3339 time\n"
      "(2026-12-04T18:35:39Z, +01:00 or a fraction allowed; without a zone, local time;\n"
      "a date alone is its midnight) or Unix seconds. The per-box process records when\n"
      "each line arrived beside the log; lines from before it did have no time: --since and\n"
      "--until leave them out, -t shows them without one. -f follows until the box stops,\n"
      "or until the --until time has passed.",
      logs_flags, cmd_logs, 1, 1, false, "box", NULL },
    { "cp", "BOX:PATH HOSTPATH | HOSTPATH BOX:PATH", "Copy files between a box and the host",
      "boxlite cp web:/etc/hostname .\nboxlite cp ./site web:/srv", NULL, cp_flags, cmd_cp, 2, 2,
      false, "file", NULL },
    { "stats", "[BOX...]", "Show boxes' CPU, memory and network use",
      "boxlite stats\nboxlite stats --no-stream web\nboxlite stats --json web",
      "On a terminal the table is redrawn every second until Ctrl-C (elsewhere a table is\n"
      "printed every second). Without BOX: every running box. CPU % is the VM process's CPU\n"
      "time over wall time (100% = one host CPU); memory is the resident size of the box's\n"
      "processes (guest RAM included) against the box's memory.\n"
      "Fields for --format: .ID, .Name, .State, .CPUPerc, .MemUsage, .MemPerc, .NetIO,\n"
      ".Executions, .GuestMem (guest RAM resident on the host), .Returned (memory the guest\n"
      "gave back to the host: free page reporting and the balloon).",
      stats_flags, cmd_stats, 0, -1, false, "box", NULL },
    { "pull", "IMAGE", "Pull an image from a registry", "boxlite pull alpine:3.20", NULL,
      pull_flags, cmd_pull, 1, 1, false, "image", NULL },
    { "images", "", "List local images", IMAGES_EXAMPLE, IMAGES_DETAILS, images_flags, cmd_images, 0, 0,
      false, "", NULL },
    { "rmi", "IMAGE [IMAGE...]", "Remove local images", "boxlite rmi alpine", NULL, rmi_flags,
      cmd_rmi, 1, -1, false, "image", NULL },
    { "image prune", "", "Remove every image no box uses", "boxlite image prune -f",
      "An image some box was created from is kept (boxlite rmi -f removes it anyway).",
      prune_flags, cmd_image_prune, 0, 0, false, "", NULL },
    { "snapshot", "create|ls|restore|rm BOX [NAME]", "Manage a box's disk snapshots",
      "boxlite snapshot create web before-upgrade\nboxlite snapshot ls web\n"
      "boxlite snapshot restore web before-upgrade\nboxlite snapshot rm web before-upgrade",
      "A snapshot freezes the box's disk as it is: of a stopped box nothing is copied; of a\n"
      "running one, its root filesystem is frozen while the disk's top is copied. restore\n"
      "makes the disk what it was then, dropping what was written since; it needs the box\n"
      "stopped. A disk holds at most 14 layers (one per snapshot or clone taken).",
      snapshot_flags, cmd_snapshot, 2, 3, false, "", NULL },
    { "clone", "BOX NEW-NAME", "Create a box that starts from a copy of another's disk",
      "boxlite clone web web-test",
      "The two boxes share the disk's history copy-on-write: what either writes afterwards\n"
      "the other does not see. A running source is frozen for the moment its disk's top is\n"
      "copied. Prints the new box's id.",
      no_flags, cmd_clone, 2, 2, false, "box", NULL },
    { "export", "BOX FILE", "Write a box (options, image, disk) to an archive",
      "boxlite export web web.box",
      "One zstd-compressed tar with a manifest, the image's configuration, every layer of\n"
      "the disk down to the image's base, and the SHA-256 of each (boxlite import reads it\n"
      "on any host). FILE appears only once it is whole.",
      no_flags, cmd_export, 2, 2, false, "box", NULL },
    { "import", "FILE", "Create a box from an archive of boxlite export",
      "boxlite import web.box --name web2",
      "Every member is checked (names, sizes, SHA-256, the disk's qcow2 headers) before the\n"
      "box exists: a damaged or hostile archive is refused and leaves nothing behind.\n"
      "Volumes and published ports are not imported (they name the exporting host's paths\n"
      "and ports). Prints the new box's id.",
      import_flags, cmd_import, 1, 1, false, "file", NULL },
    { "serve", "[credentials add FILE CLIENT_ID PREFIX | credentials rm FILE CLIENT_ID]",
      "Serve BoxLite's REST API (docs/api.yaml)",
      "boxlite serve credentials add creds acme-ci acme --scopes boxes:read,boxes:write,boxes:exec\n"
      "boxlite serve --listen 127.0.0.1:8100 --credentials creds",
      "Speaks BoxLite's REST API (its openapi/rest-sandbox-open-api.yaml; ours is\n"
      "docs/api.yaml) over this home's boxes: POST /v1/oauth/tokens trades a client's id and\n"
      "secret for a bearer token, and each client sees only the boxes of its prefix.\n"
      "credentials add prints the client's generated secret once; the file keeps a salted\n"
      "hash of it. A non-loopback --listen needs --tls-cert and --tls-key (or --insecure).\n"
      "Every request is logged on standard error (method, path, status, duration, client).\n"
      "Clients' pulls are anonymous unless --registry-credentials lends them this host's\n"
      "registry credentials, and a box is made from an image only after the client's own\n"
      "pull of it (the server pulls it on create): the store never hands one client an image\n"
      "that the registry would refuse it.\n"
      "SIGTERM or Ctrl-C: stop accepting, end the executions, stop; boxes created with\n"
      "detach keep running.",
      serve_flags, cmd_serve, 0, 5, false, "", NULL },
    { "completion", "bash|zsh|fish", "Print a shell completion script",
      "source <(boxlite completion bash)\nboxlite completion zsh > \"${fpath[1]}/_boxlite\"\n"
      "boxlite completion fish > ~/.config/fish/completions/boxlite.fish",
      "Completes verbs, their flags, box names and image references (read from the home when\n"
      "completing). The zsh script uses zsh's bashcompinit.",
      no_flags, cmd_completion, 1, 1, false, "", NULL },
    { "version", "", "Show the version", "boxlite version", NULL, no_flags, cmd_version, 0, 0,
      false, "", NULL },
    { "doctor", "", "Check this host and boot a smoke box on every engine",
      "boxlite doctor --no-smoke",
      "Exit status 0 when some engine can run boxes (and every smoke box worked), else 1.",
      doctor_flags, cmd_doctor, 0, 0, false, "", NULL },
    { "help", "[COMMAND]", "Show the help of boxlite or of a command", "boxlite help run", NULL,
      help_flags, cmd_help, 0, 2, false, "verb", NULL },
    { "reclaim", "[BOX...]", "Give a running box's unused memory back to the host",
      "boxlite reclaim\nboxlite reclaim web\nboxlite reclaim --idle 5m",
      "The guest drops its caches (clean pages: nothing is lost) and compacts its free\n"
      "memory; free page reporting hands it to the host over the next seconds (boxlite\n"
      "stats: MEM USAGE falls). Without BOX: every running box, or with --idle only\n"
      "those idle that long (for a timer). Prints how much each guest freed.",
      reclaim_flags, cmd_reclaim, 0, -1, false, "box", NULL },
    { "balloon", "BOX SIZE|none", "Set how much memory a running box's guest may keep",
      "boxlite balloon web 128m\nboxlite balloon web none",
      "The balloon holds the rest of the box's memory (SIZE at least 32m, at most its\n"
      "memory); the guest follows within seconds. Lasts until the box stops, through pauses\n"
      "and into forks (--balloon-target sets it at every cold start).",
      no_flags, cmd_balloon, 2, 2, false, "box", NULL },
};
const size_t cli_nverbs = sizeof cli_verbs / sizeof cli_verbs[0];
