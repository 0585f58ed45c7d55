// SPDX-License-Identifier: Apache-2.0
/* The kernel command line's boxlite.* words. */
#include "../../../guest/agent/agent.h"
#include "harness/harness.h"

TEST(all_words)
{
    struct proto_setup s = {.net = true};
    bool ctl = false;
    agent_parse_cmdline("console=ttyS0 boxlite.root=/dev/vda boxlite.fstype=ext4 "
                        "boxlite.vol=vol0:/data:ro boxlite.vol=vol1:/a:b boxlite.vol=v2:/w:rw "
                        "boxlite.hostname=web boxlite.ip=10.0.2.20/24 boxlite.gw=10.0.2.2 "
                        "boxlite.dns=1.1.1.1 boxlite.ctl=1 quiet",
                        &s, &ctl);
    CHECK(ctl);
    CHECK_STR(s.root_dev, "/dev/vda");
    CHECK_STR(s.root_fstype, "ext4");
    CHECK_STR(s.hostname, "web");
    CHECK_STR(s.net_addr, "10.0.2.20/24");
    CHECK_STR(s.net_dns, "1.1.1.1");
    CHECK(s.net);
    REQUIRE(s.nvols == 3);
    CHECK_STR(s.vols[0].tag, "vol0");
    CHECK_STR(s.vols[0].path, "/data");
    CHECK(s.vols[0].readonly);
    CHECK_STR(s.vols[1].path, "/a:b"); /* a colon inside the path stays */
    CHECK(!s.vols[1].readonly);
    CHECK_STR(s.vols[2].path, "/w");
    CHECK(!s.vols[2].readonly);
    proto_setup_free(&s);
}

TEST(malformed_words_ignored)
{
    struct proto_setup s = {.net = true};
    bool ctl = false;
    agent_parse_cmdline("boxlite.vol=novalue boxlite.vol=:/x boxlite.vol=t:relative boxlite.root "
                        "boxlite.net=0 boxlite.ctl=0 boxlite.unknown=1 boxlite.root=/a boxlite.root=/b",
                        &s, &ctl);
    CHECK_EQ(s.nvols, 0);
    CHECK(!s.net);
    CHECK(!ctl);
    CHECK_STR(s.root_dev, "/b");
    proto_setup_free(&s);
    agent_parse_cmdline(NULL, &s, &ctl);
    agent_parse_cmdline("", &s, &ctl);
}

TEST(disk_words)
{
    struct proto_setup s = {0};
    bool ctl = false;
    agent_parse_cmdline("boxlite.disk=/dev/vdb:/data boxlite.disk=/dev/vdc:/srv/x:ro:xfs "
                        "boxlite.disk=/dev/vdd:/w:rw boxlite.disk=vde:/rel boxlite.disk=/dev/vdf "
                        "boxlite.disk=/dev/vdg:nopath boxlite.disk=serial:d1:/s:ro boxlite.disk=serial::/x",
                        &s, &ctl);
    REQUIRE(s.ndisks == 4);
    CHECK_STR(s.disks[3].dev, "serial:d1");
    CHECK_STR(s.disks[3].path, "/s");
    CHECK(s.disks[3].readonly);
    CHECK_STR(s.disks[0].dev, "/dev/vdb");
    CHECK_STR(s.disks[0].path, "/data");
    CHECK_STR(s.disks[0].fstype, "");
    CHECK(!s.disks[0].readonly);
    CHECK_STR(s.disks[1].dev, "/dev/vdc");
    CHECK_STR(s.disks[1].path, "/srv/x");
    CHECK_STR(s.disks[1].fstype, "xfs");
    CHECK(s.disks[1].readonly);
    CHECK_STR(s.disks[2].path, "/w");
    CHECK(!s.disks[2].readonly);
    proto_setup_free(&s);
}
