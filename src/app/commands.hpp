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
  std::string verb;                 // add | del | list | passwd | pop3
  std::string name;                 // domain name or address
  std::vector<std::string> targets; // alias targets
  bool json = false;
  bool password_stdin = false;
  std::optional<std::string> quota; // "1000000", "50M", "2G"
  std::string policy;               // user pop3: delete | keep | keep:DAYS | default
  bool all = false;                 // queue retry --all
};
int cmd_domain(const AdminArgs& args);
int cmd_user(const AdminArgs& args);
int cmd_alias(const AdminArgs& args);
// posthorn queue list [--json] | queue retry ID|--all | queue delete ID
int cmd_queue(const AdminArgs& args);

// posthorn dmarc report [--send]: prints (or sends now) the pending DMARC aggregate reports.
int cmd_dmarc_report(const std::filesystem::path& config_file, bool send);

// posthorn import maildir ADDRESS DIR | import mbox ADDRESS FILE [--mailbox NAME] |
// export maildir ADDRESS DIR. Exit 0 when the run finished (skipped entries are listed in the
// summary), 1 on a fatal error.
struct TransferArgs {
  enum Direction { kImport, kExport };
  std::filesystem::path config_file;
  Direction direction = kImport;
  std::string format;          // maildir | mbox
  std::string address;
  std::filesystem::path path;  // the maildir folder or the mbox file
  std::string mailbox;         // import mbox: the target mailbox ("" = INBOX)
};
int cmd_transfer(const TransferArgs& args);

// posthorn dkim generate DOMAIN [--selector S] | dkim list: DKIM signing keys in
// <data_dir>/dkim/<domain>/<selector>.pem (dkim_cli.cpp).
struct DkimArgs {
  std::filesystem::path config_file;
  std::string verb;      // generate | list
  std::string domain;    // generate: a local domain
  std::string selector;  // generate: the selector prefix ("" = "ph" + year + month)
};
int cmd_dkim(const DkimArgs& args);

// posthorn tlsrpt report [--send]: the pending TLS-RPT reports as JSON, or queue them now.
int cmd_tlsrpt_report(const std::filesystem::path& config_file, bool send);

// posthorn migrate --to postgresql://USER@HOST:PORT/DB | sqlite:DATA_DIR [--account ADDRESS]: copies the
// installation into another backend and verifies it (migrate_cli.cpp, docs/cluster.md).
struct MigrateArgs {
  std::filesystem::path config_file;
  std::string to;
  std::string account;  // "" = everything
};
int cmd_migrate(const MigrateArgs& args);

// posthorn db migrate: applies the schema migrations of every part [store] names and opens every
// account's mail (db_cli.cpp); exit 1 naming the part and the cause, e.g. a newer schema.
int cmd_db_migrate(const std::filesystem::path& config_file);

// --config FILE, else ./posthorn.toml, else /etc/posthorn/posthorn.toml.
std::filesystem::path resolve_config_path(const std::string& given);

}  // namespace posthorn::app
