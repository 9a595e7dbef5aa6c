// Sink: for tests only. Runs testdata/smtp_sink.py (a scriptable SMTP receiver that logs JSON lines)
// or any script that prints its port first, and reads back what it received. Header-only so the
// tests of smtpc/ and of the queue runner share it (the including binary compiles Boost.JSON:
// one TU includes <boost/json/src.hpp>). Not thread-safe.
#pragma once

#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <boost/json.hpp>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

extern char** environ;

#ifndef POSTHORN_SMTPC_TESTDATA
#error "POSTHORN_SMTPC_TESTDATA must name src/smtpc/testdata"
#endif

namespace posthorn::smtpc::testing {

namespace fs = std::filesystem;

inline const char* kSink = POSTHORN_SMTPC_TESTDATA "/smtp_sink.py";

// One smtp_sink.py process; the port it printed; its JSON log.
class Sink {
 public:
  Sink(const fs::path& dir, std::string host, uint16_t port, std::vector<std::string> extra) {
    static int counter = 0;
    log_ = dir / ("sink" + std::to_string(++counter) + ".jsonl");
    std::vector<std::string> args = {"/usr/bin/python3", kSink, "--host", host, "--port", std::to_string(port),
                                     "--log", log_.string()};
    args.insert(args.end(), extra.begin(), extra.end());
    start(args);
  }
  // Any script that prints its port first.
  Sink(std::vector<std::string> args, fs::path log) : log_(std::move(log)) { start(args); }

  void start(std::vector<std::string> args) {
    int out[2];
    if (pipe(out) != 0) throw std::runtime_error("pipe");
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    posix_spawn_file_actions_adddup2(&actions, out[1], 1);
    posix_spawn_file_actions_addclose(&actions, out[0]);
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    if (posix_spawn(&pid_, argv[0], &actions, nullptr, argv.data(), environ) != 0) throw std::runtime_error("spawn");
    posix_spawn_file_actions_destroy(&actions);
    close(out[1]);
    std::string line;
    char c;
    while (read(out[0], &c, 1) == 1 && c != '\n') line += c;
    close(out[0]);
    if (line.empty()) throw std::runtime_error("sink did not start");
    port_ = uint16_t(std::stoi(line));
  }
  ~Sink() {
    kill(pid_, SIGTERM);
    waitpid(pid_, nullptr, 0);
  }
  uint16_t port() const { return port_; }

  std::vector<boost::json::object> events() const {
    std::vector<boost::json::object> out;
    std::ifstream f(log_);
    std::string line;
    while (std::getline(f, line)) {
      boost::system::error_code ec;
      auto v = boost::json::parse(line, ec);
      if (!ec && v.is_object()) out.push_back(v.as_object());  // a line being written is skipped
    }
    return out;
  }
  std::vector<std::string> commands() const {
    std::vector<std::string> out;
    for (auto& e : events()) {
      if (e.contains("cmd")) out.emplace_back(e.at("cmd").as_string());
    }
    return out;
  }
  int connections() const {
    int n = 0;
    for (auto& e : events()) n += e.contains("event") && e.at("event").as_string() == "connect";
    return n;
  }
  // The most connections open at once.
  int max_open() const {
    int open = 0;
    int most = 0;
    for (auto& e : events()) {
      if (!e.contains("event")) continue;
      if (e.at("event").as_string() == "connect") most = std::max(most, ++open);
      if (e.at("event").as_string() == "close") --open;
    }
    return most;
  }
  std::vector<std::string> messages() const {
    std::vector<std::string> out;
    std::string bdat;
    for (auto& e : events()) {
      if (e.contains("data")) out.emplace_back(e.at("data").as_string());
      if (e.contains("bdat")) {
        bdat += e.at("bdat").as_string();
        if (e.at("last").as_bool()) out.push_back(std::exchange(bdat, ""));
      }
    }
    return out;
  }

 private:
  fs::path log_;
  pid_t pid_ = -1;
  uint16_t port_ = 0;
};

}  // namespace posthorn::smtpc::testing
