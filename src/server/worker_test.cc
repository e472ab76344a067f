#include "server/worker.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>

#include "core/file_util.h"
#include "core/status_matchers.h"

namespace hangar::server {
namespace {

TEST(WorkerTest, DevicesAreReadFromRpcServersOutput) {
  const std::string output =
      "Starting RPC server v7.0.0\n"
      "  endpoint       : 127.0.0.1:50052\n"
      "  local cache    : n/a\n"
      "Devices:\n"
      "  CUDA0: NVIDIA H100 80GB HBM3 (81079 MiB, 80542 MiB free)\n"
      "  CPU: AMD EPYC 7B13 64-Core Processor (128000 MiB, 120000 MiB free)\n"
      "  transport      : TCP\n"
      "Accepted client connection\n";
  auto devices = ParseRpcDevices(output);
  ASSERT_EQ(devices.size(), 2u);
  EXPECT_EQ(devices[0].name, "CUDA0");
  EXPECT_EQ(devices[0].description, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ(devices[0].total, 81079ull * 1024 * 1024);
  EXPECT_EQ(devices[0].free, 80542ull * 1024 * 1024);
  EXPECT_EQ(devices[1].name, "CPU");
  EXPECT_EQ(devices[1].description, "AMD EPYC 7B13 64-Core Processor");
  EXPECT_TRUE(ParseRpcDevices("Starting RPC server v7.0.0\nNo devices found\n").empty());
}

TEST(WorkerTest, EstablishedConnectionsCountsOnlyThatPortsEstablishedOnes) {
  const std::filesystem::path root = testing::TempDir() + "/worker_proc";
  std::filesystem::create_directories(root / "proc/net");
  // Port 50052 = 0xC384: one established (01), one listening (0A); another
  // port established.
  ASSERT_OK(WriteFileAtomic(
      root / "proc/net/tcp",
      "  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid\n"
      "   0: 0100007F:C384 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0\n"
      "   1: 0100007F:C384 0100007F:D431 01 00000000:00000000 00:00000000 00000000     0\n"
      "   2: 0100007F:1F90 0100007F:D432 01 00000000:00000000 00:00000000 00000000     0\n"));
  ASSERT_OK(WriteFileAtomic(
      root / "proc/net/tcp6",
      "  sl  local_address                         remote_address                        st\n"
      "   0: 00000000000000000000000001000000:C384 00000000000000000000000001000000:D433 01\n"));
  EXPECT_EQ(EstablishedConnections(root, 50052), 2);
  EXPECT_EQ(EstablishedConnections(root, 8080), 1);
  EXPECT_EQ(EstablishedConnections(root, 9), 0);
}

}  // namespace
}  // namespace hangar::server
