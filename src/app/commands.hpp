// The posthorn command line (DESIGN.md §7): each subcommand is one function returning the exit
// status. Errors go to stderr and say what to do. Only app/ names concrete backends.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace posthorn::app {

struct InitArgs {
  std::filesystem::path dir;
  std::string hostname;
  bool dev = false;
  uint16_t port_base = 10000;
};
int cmd_init(const InitArgs& args);

int cmd_serve(const std::filesystem::path& config_file);
int cmd_check_config(const std::filesystem::path& config_file);

struct AdminArgs {
  std::filesystem::path config_file;
  std::string verb;                 // add | del | list | passwd
  std::string name;                 // domain name or address
  std::vector<std::string> targets; // alias targets
  bool json = false;
  bool password_stdin = false;
  std::optional<std::string> quota; // "1000000", "50M", "2G"
};
int cmd_domain(const AdminArgs& args);
int cmd_user(const AdminArgs& args);
int cmd_alias(const AdminArgs& args);

// --config FILE, else ./posthorn.toml, else /etc/posthorn/posthorn.toml.
std::filesystem::path resolve_config_path(const std::string& given);

}  // namespace posthorn::app
