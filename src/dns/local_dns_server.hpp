// LocalDnsServer: for tests only. Starts Debian's unbound (/usr/sbin/unbound) in the foreground on
// 127.0.0.1 and a free high port, with a private configuration in a temporary folder: the zones the
// test gives as local-data, everything else NXDOMAIN (a static "." zone, so nothing ever leaves the
// machine), "servfail.test" answering SERVFAIL (forwarded to a closed port), "refused.test" REFUSED
// and "timeout.test" silently dropped. The destructor stops the server (SIGTERM, then SIGKILL).
// Header-only so the tests of dns/, smtpc/ and later queue runners share it. Not thread-safe.
#pragma once

#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <spawn.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

extern char** environ;

#ifndef POSTHORN_UNBOUND_BIN
#define POSTHORN_UNBOUND_BIN "/usr/sbin/unbound"
#endif

namespace posthorn::dns::testing {

class LocalDnsServer {
 public:
  // zones: names served from local-data (each gets a static local-zone); records: unbound local-data
  // lines such as "example.test. MX 10 mx.example.test." or "mx.example.test. A 127.0.0.1".
  LocalDnsServer(const std::vector<std::string>& zones, const std::vector<std::string>& records) {
    char tmpl[] = "/tmp/posthorn-dns-XXXXXX";
    if (mkdtemp(tmpl) == nullptr) throw std::runtime_error("mkdtemp failed");
    dir_ = tmpl;
    for (int attempt = 0; attempt < 20 && pid_ <= 0; ++attempt) {
      port_ = free_port();
      write_config(zones, records);
      start();
      if (!wait_ready()) stop();
    }
    if (pid_ <= 0) throw std::runtime_error("unbound did not start (log in " + dir_.string() + ")");
  }
  ~LocalDnsServer() {
    stop();
    std::error_code ignored;
    std::filesystem::remove_all(dir_, ignored);
  }
  LocalDnsServer(const LocalDnsServer&) = delete;
  LocalDnsServer& operator=(const LocalDnsServer&) = delete;

  uint16_t port() const { return port_; }
  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }

 private:
  static uint16_t free_port() {
    int s = ::socket(AF_INET, SOCK_DGRAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
    socklen_t len = sizeof a;
    ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &len);
    ::close(s);
    return ntohs(a.sin_port);
  }

  void write_config(const std::vector<std::string>& zones, const std::vector<std::string>& records) {
    std::ofstream f(dir_ / "unbound.conf");
    f << "server:\n"
      << "  interface: 127.0.0.1\n  port: " << port_ << "\n"
      << "  do-daemonize: no\n  username: \"\"\n  chroot: \"\"\n  directory: \"" << dir_.string() << "\"\n"
      << "  pidfile: \"\"\n  use-syslog: no\n  logfile: \"\"\n  verbosity: 0\n  module-config: \"iterator\"\n"
      << "  do-ip6: no\n  num-threads: 1\n  so-reuseport: no\n  cache-max-ttl: 0\n  cache-max-negative-ttl: 0\n"
      << "  local-zone: \".\" static\n"
      << "  local-zone: \"ready.test.\" static\n  local-data: \"ready.test. A 127.0.0.1\"\n"
      << "  local-zone: \"refused.test.\" always_refuse\n"
      << "  local-zone: \"timeout.test.\" deny\n"
      << "  local-zone: \"servfail.test.\" transparent\n";
    for (const auto& z : zones) f << "  local-zone: \"" << z << "\" static\n";
    // A record with double quotes in it (TXT strings) goes in single quotes, as unbound.conf(5) says.
    for (const auto& r : records) {
      const char q = r.find('"') == std::string::npos ? '"' : '\'';
      f << "  local-data: " << q << r << q << "\n";
    }
    f << "forward-zone:\n  name: \"servfail.test.\"\n  forward-addr: 127.0.0.1@9\n"
      << "remote-control:\n  control-enable: no\n";
  }

  void start() {
    const std::string conf = (dir_ / "unbound.conf").string();
    const std::string log = (dir_ / "unbound.log").string();
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_APPEND, 0600);
    posix_spawn_file_actions_adddup2(&actions, 1, 2);
    std::vector<std::string> args = {POSTHORN_UNBOUND_BIN, "-d", "-c", conf};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    pid_t pid = 0;
    if (posix_spawn(&pid, argv[0], &actions, nullptr, argv.data(), environ) == 0) pid_ = pid;
    posix_spawn_file_actions_destroy(&actions);
  }

  // Sends "ready.test A" until an answer comes (up to 10 s), or the process exits.
  bool wait_ready() {
    static const unsigned char query[] = {0x12, 0x34, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0,
                                          5, 'r', 'e', 'a', 'd', 'y', 4, 't', 'e', 's', 't', 0, 0, 1, 0, 1};
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    a.sin_port = htons(port_);
    int s = ::socket(AF_INET, SOCK_DGRAM, 0);
    timeval tv{0, 100000};
    ::setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    bool ok = false;
    for (int i = 0; i < 100 && !ok; ++i) {
      if (pid_ <= 0 || ::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        break;
      }
      ::sendto(s, query, sizeof query, 0, reinterpret_cast<sockaddr*>(&a), sizeof a);
      unsigned char buf[512];
      ok = ::recv(s, buf, sizeof buf, 0) > 0;
    }
    ::close(s);
    return ok;
  }

  void stop() {
    if (pid_ <= 0) return;
    ::kill(pid_, SIGTERM);
    for (int i = 0; i < 50; ++i) {
      if (::waitpid(pid_, nullptr, WNOHANG) == pid_) {
        pid_ = -1;
        return;
      }
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid_, SIGKILL);
    ::waitpid(pid_, nullptr, 0);
    pid_ = -1;
  }

  std::filesystem::path dir_;
  uint16_t port_ = 0;
  pid_t pid_ = -1;
};

}  // namespace posthorn::dns::testing
