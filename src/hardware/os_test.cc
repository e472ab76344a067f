#include "hardware/os.h"

#include <gtest/gtest.h>

#include "hardware/test_util.h"

namespace hangar {
namespace {

using hardware_internal::OsReleaseValue;
using hardware_test::FixtureRoot;
using hardware_test::TempTree;

TEST(OsReleaseValueTest, Table) {
  const char* text =
      "NAME=\"Fedora Linux\"\nVERSION_ID=40\nID='fedora'\n"
      "PRETTY_NAME=\"Say \\\"hi\\\" \\\\o/\"\nEMPTY=\nBROKEN\n";
  EXPECT_EQ(OsReleaseValue(text, "NAME"), "Fedora Linux");
  EXPECT_EQ(OsReleaseValue(text, "VERSION_ID"), "40");
  EXPECT_EQ(OsReleaseValue(text, "ID"), "fedora");
  EXPECT_EQ(OsReleaseValue(text, "PRETTY_NAME"), "Say \"hi\" \\o/");
  EXPECT_EQ(OsReleaseValue(text, "EMPTY"), "");
  EXPECT_EQ(OsReleaseValue(text, "MISSING"), "");
  EXPECT_EQ(OsReleaseValue(text, "BROKEN"), "");
}

TEST(ProbeKernelTest, FixtureReadsProcSysKernel) {
  KernelInfo kernel = ProbeKernel(FixtureRoot("arm"));
  EXPECT_EQ(kernel.name, "Linux");
  EXPECT_EQ(kernel.release, "6.1.91-99.172.amzn2023.aarch64");
  EXPECT_EQ(kernel.machine, "aarch64");
}

TEST(ProbeKernelTest, RealRootUsesUname) {
  KernelInfo kernel = ProbeKernel("/");
  EXPECT_FALSE(kernel.name.empty());
  EXPECT_FALSE(kernel.release.empty());
  EXPECT_FALSE(kernel.machine.empty());
}

TEST(ProbeOsTest, Fixtures) {
  OsInfo debian = ProbeOs(FixtureRoot("laptop"), ProbeKernel(FixtureRoot("laptop")));
  EXPECT_EQ(debian, (OsInfo{"Debian GNU/Linux 12 (bookworm)", "12", "6.1.0-18-amd64"}));
  OsInfo fedora = ProbeOs(FixtureRoot("amd"), ProbeKernel(FixtureRoot("amd")));
  EXPECT_EQ(fedora,
            (OsInfo{"Fedora Linux 40 (Workstation Edition)", "40", "6.8.9-300.fc40.x86_64"}));
}

TEST(ProbeOsTest, FallsBackToUsrLibAndThenToTheKernelName) {
  TempTree tree;
  KernelInfo kernel{"Linux", "6.9.0", "x86_64"};
  EXPECT_EQ(ProbeOs(tree.root(), kernel), (OsInfo{"Linux", "", "6.9.0"}));
  tree.Write("usr/lib/os-release", "NAME=Arch Linux\nID=arch\n");
  EXPECT_EQ(ProbeOs(tree.root(), kernel), (OsInfo{"Arch Linux", "", "6.9.0"}));
}

}  // namespace
}  // namespace hangar
