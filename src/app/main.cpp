// posthorn: entry point. Parses the command line (CLI11) and runs one subcommand.
#include <sys/stat.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>

#include "app/commands.hpp"
#include "base/ascii.hpp"

using namespace posthorn::app;

namespace {

void add_common_list(CLI::App* sub, AdminArgs& a) { sub->add_flag("--json", a.json, "Print JSON"); }

}  // namespace

int main(int argc, char** argv) {
  // Everything Posthorn creates (databases, their journals, blobs, spool files, keys, folders) is
  // for its own user only: files 0600, folders 0700, whatever umask it was started with.
  ::umask(077);
  CLI::App app{"Posthorn: an all-in-one mail server (SMTP, IMAP, POP3)", "posthorn"};
  app.fallthrough();  // --config may come anywhere, before or after the subcommand
  app.require_subcommand(1);
  std::string config_opt;
  app.add_option("--config", config_opt, "Configuration file (default ./posthorn.toml, then /etc/posthorn/posthorn.toml)");

  InitArgs init;
  auto* init_cmd = app.add_subcommand("init", "Create a new server folder: config, data, TLS certificate");
  init_cmd->add_option("--dir", init.dir, "Folder to create")->required();
  init_cmd->add_option("--hostname", init.hostname, "This server's host name (default: the machine's name)");
  init_cmd->add_flag("--dev", init.dev, "Development setup: loopback only, plaintext auth on loopback allowed");
  init_cmd->add_option("--port-base", init.port_base, "With --dev: ports are N+25, N+587, ... (default 10000)")
      ->check(CLI::Range(1, 64535));

  auto* serve_cmd = app.add_subcommand("serve", "Run the server in the foreground (SIGTERM stops, SIGHUP reloads)");
  auto* check_cmd = app.add_subcommand("check-config", "Validate the configuration and certificates, then exit");
  auto* version_cmd = app.add_subcommand("version", "Print the version");

  AdminArgs dom, usr, ali;
  std::string alias_targets;  // "a@x,b@y" as given; split into ali.targets once parsed
  auto* domain_cmd = app.add_subcommand("domain", "Manage local domains");
  domain_cmd->require_subcommand(1);
  for (const char* verb : {"add", "del"}) {
    auto* s = domain_cmd->add_subcommand(verb, std::string(verb) == "add" ? "Add a domain" : "Delete a domain");
    s->add_option("NAME", dom.name, "Domain name")->required();
    s->callback([&dom, verb] { dom.verb = verb; });
  }
  {
    auto* s = domain_cmd->add_subcommand("list", "List domains");
    add_common_list(s, dom);
    s->callback([&dom] { dom.verb = "list"; });
  }

  auto* user_cmd = app.add_subcommand("user", "Manage users (mail accounts)");
  user_cmd->require_subcommand(1);
  {
    auto* s = user_cmd->add_subcommand("add", "Add a user; without --password-stdin a password is generated and printed");
    s->add_option("ADDRESS", usr.name, "Mail address, user@domain")->required();
    s->add_flag("--password-stdin", usr.password_stdin, "Read the password from the first line of stdin");
    s->add_option("--quota", usr.quota, "Storage quota in bytes (suffixes K, M, G allowed; 0 = unlimited)");
    s->callback([&usr] { usr.verb = "add"; });
    auto* d = user_cmd->add_subcommand("del", "Delete a user");
    d->add_option("ADDRESS", usr.name, "Mail address")->required();
    d->callback([&usr] { usr.verb = "del"; });
    auto* p = user_cmd->add_subcommand("passwd", "Set a user's password (and optionally quota)");
    p->add_option("ADDRESS", usr.name, "Mail address")->required();
    p->add_flag("--password-stdin", usr.password_stdin, "Read the password from the first line of stdin");
    p->add_option("--quota", usr.quota, "Also set the quota in bytes (K, M, G suffixes allowed)");
    p->callback([&usr] { usr.verb = "passwd"; });
    auto* p3 = user_cmd->add_subcommand("pop3", "Set a user's own POP3 policy (what DELE then QUIT does)");
    p3->add_option("ADDRESS", usr.name, "Mail address")->required();
    p3->add_option("POLICY", usr.policy, "delete | keep | keep:DAYS | default (the server's [pop3] policy)")
        ->required();
    p3->callback([&usr] { usr.verb = "pop3"; });
    auto* l = user_cmd->add_subcommand("list", "List users");
    add_common_list(l, usr);
    l->callback([&usr] { usr.verb = "list"; });
  }

  auto* alias_cmd = app.add_subcommand("alias", "Manage aliases (\"@domain\" is the domain's catch-all)");
  alias_cmd->require_subcommand(1);
  {
    auto* s = alias_cmd->add_subcommand("add", "Add an alias");
    s->add_option("ADDRESS", ali.name, "Alias address, or @domain for a catch-all")->required();
    s->add_option("TARGET", alias_targets, "Target address(es), comma-separated")->required();
    s->callback([&ali, &alias_targets] {
      ali.verb = "add";
      for (auto t : posthorn::ascii::split(alias_targets, ',')) {
        t = posthorn::ascii::trim(t);
        if (!t.empty()) ali.targets.emplace_back(t);
      }
    });
    auto* d = alias_cmd->add_subcommand("del", "Delete an alias");
    d->add_option("ADDRESS", ali.name, "Alias address")->required();
    d->callback([&ali] { ali.verb = "del"; });
    auto* l = alias_cmd->add_subcommand("list", "List aliases");
    add_common_list(l, ali);
    l->callback([&ali] { ali.verb = "list"; });
  }

  AdminArgs que;
  auto* queue_cmd = app.add_subcommand("queue", "Inspect and manage the outbound queue");
  queue_cmd->require_subcommand(1);
  {
    auto* l = queue_cmd->add_subcommand("list", "List queued messages and their recipients");
    add_common_list(l, que);
    l->callback([&que] { que.verb = "list"; });
    auto* r = queue_cmd->add_subcommand("retry", "Make a queued message (or every one, --all) due now");
    r->add_option("ID", que.name, "Queue ID (from queue list)");
    r->add_flag("--all", que.all, "Every queued message");
    r->callback([&que] { que.verb = "retry"; });
    auto* d = queue_cmd->add_subcommand("delete", "Delete a queued message without delivering it");
    d->add_option("ID", que.name, "Queue ID (from queue list)")->required();
    d->callback([&que] { que.verb = "delete"; });
  }

  bool dmarc_send = false;
  auto* dmarc_cmd = app.add_subcommand("dmarc", "DMARC aggregate reports");
  dmarc_cmd->require_subcommand(1);
  auto* dmarc_report = dmarc_cmd->add_subcommand("report", "Print the pending DMARC aggregate reports (--send: send them now)");
  dmarc_report->add_flag("--send", dmarc_send, "Send the pending reports now instead of printing them");

  // import/export: exit 0 with a summary even when entries were skipped; non-zero on fatal errors.
  TransferArgs xfer;
  const char* kTransferFooter =
      "Exit status: 0 when the run finished; skipped entries (malformed mbox entries, unreadable files) are "
      "listed with their reason in the summary. 1 on a fatal error (no such user, unreadable source, store "
      "unavailable, over quota); messages imported before it stay.";
  auto* import_cmd = app.add_subcommand("import", "Import mail into an account from a Maildir or an mbox file");
  import_cmd->require_subcommand(1);
  import_cmd->footer(kTransferFooter);
  {
    auto* m = import_cmd->add_subcommand("maildir", "Import a Maildir/Maildir++ tree (Dovecot layout; folders, flags, keywords)");
    m->add_option("ADDRESS", xfer.address, "The account's address")->required();
    m->add_option("DIR", xfer.path, "The maildir (the folder holding cur/ and new/)")->required();
    m->footer(kTransferFooter);
    m->callback([&xfer] { xfer.format = "maildir"; });
    auto* b = import_cmd->add_subcommand("mbox", "Import an mbox file (mboxrd; Status/X-Status/X-Keywords become flags)");
    b->add_option("ADDRESS", xfer.address, "The account's address")->required();
    b->add_option("FILE", xfer.path, "The mbox file")->required();
    b->add_option("--mailbox", xfer.mailbox, "Target mailbox, created if missing (default INBOX)");
    b->footer(kTransferFooter);
    b->callback([&xfer] { xfer.format = "mbox"; });
  }
  auto* export_cmd = app.add_subcommand("export", "Export an account's mail");
  export_cmd->require_subcommand(1);
  {
    auto* m = export_cmd->add_subcommand("maildir", "Write every mailbox as a Maildir++ tree (LF line ends) into DIR, "
                                                    "which must not exist or be empty");
    m->add_option("ADDRESS", xfer.address, "The account's address")->required();
    m->add_option("DIR", xfer.path, "The new maildir")->required();
    m->footer("Exit status: 0 when every message was written, 1 on a fatal error.");
    m->callback([&xfer] {
      xfer.format = "maildir";
      xfer.direction = TransferArgs::kExport;
    });
  }

  DkimArgs dkim;
  auto* dkim_cmd = app.add_subcommand("dkim", "Manage DKIM signing keys");
  dkim_cmd->require_subcommand(1);
  {
    auto* g = dkim_cmd->add_subcommand("generate", "Create an RSA-2048 and an Ed25519 key for a local domain and "
                                                   "print the DNS TXT records to publish");
    g->add_option("DOMAIN", dkim.domain, "A local domain")->required();
    g->add_option("--selector", dkim.selector, "Selector prefix: the keys are S-rsa and S-ed25519 (default ph<YYYYMM>)");
    g->callback([&dkim] { dkim.verb = "generate"; });
    auto* l = dkim_cmd->add_subcommand("list", "List DKIM keys: domain, selector, algorithm, TXT record");
    l->callback([&dkim] { dkim.verb = "list"; });
  }

  bool tlsrpt_send = false;
  auto* tlsrpt_cmd = app.add_subcommand("tlsrpt", "TLS-RPT reports on outbound TLS (RFC 8460)");
  tlsrpt_cmd->require_subcommand(1);
  auto* tlsrpt_report = tlsrpt_cmd->add_subcommand("report", "Print the pending reports as JSON (today's included)");
  tlsrpt_report->add_flag("--send", tlsrpt_send, "Queue them to the domains' rua= addresses now instead");

  MigrateArgs mig;
  auto* migrate_cmd = app.add_subcommand("migrate", "Copy this installation into another backend (SQLite <-> PostgreSQL) and verify it");
  migrate_cmd->add_option("--to", mig.to, "postgresql://USER@HOST:PORT/DB (empty database) or sqlite:DATA_DIR (new folder)")->required();
  migrate_cmd->add_option("--account", mig.account, "Move only this account");

  auto* db_cmd = app.add_subcommand("db", "The storage's schema");
  db_cmd->require_subcommand(1);
  auto* db_migrate = db_cmd->add_subcommand("migrate", "Apply the schema migrations this Posthorn needs (serve does on start), then exit");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }

  if (version_cmd->parsed()) {
    std::printf("posthorn %s\n", POSTHORN_VERSION);
    return 0;
  }
  if (init_cmd->parsed()) return cmd_init(init);
  const auto config_file = resolve_config_path(config_opt);
  if (serve_cmd->parsed()) return cmd_serve(config_file);
  if (check_cmd->parsed()) return cmd_check_config(config_file);
  if (domain_cmd->parsed()) {
    dom.config_file = config_file;
    return cmd_domain(dom);
  }
  if (user_cmd->parsed()) {
    usr.config_file = config_file;
    return cmd_user(usr);
  }
  if (alias_cmd->parsed()) {
    ali.config_file = config_file;
    return cmd_alias(ali);
  }
  if (queue_cmd->parsed()) {
    que.config_file = config_file;
    return cmd_queue(que);
  }
  if (tlsrpt_report->parsed()) return cmd_tlsrpt_report(config_file, tlsrpt_send);
  if (dkim_cmd->parsed()) {
    dkim.config_file = config_file;
    return cmd_dkim(dkim);
  }
  if (dmarc_report->parsed()) return cmd_dmarc_report(config_file, dmarc_send);
  if (db_migrate->parsed()) return cmd_db_migrate(config_file);
  if (migrate_cmd->parsed()) {
    mig.config_file = config_file;
    return cmd_migrate(mig);
  }
  if (import_cmd->parsed() || export_cmd->parsed()) {
    xfer.config_file = config_file;
    return cmd_transfer(xfer);
  }
  return 2;
}
