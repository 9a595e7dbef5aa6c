// posthorn import maildir|mbox and posthorn export maildir (DESIGN.md §7): moves mail between an
// account and Maildir/mbox files, through the MailStore interfaces (so the same code serves any
// backend; app/ is the one place that names the SQLite one).
//
// Import streams: a maildir is read one file at a time and an mbox through the chunked reader;
// messages go to the store in batches (append_many, at most kBatchMessages messages or
// kBatchBytes bytes), so neither the source nor the account is ever held in memory whole.
// Mailboxes are created as needed; Sent, Drafts, Trash, Junk and Archive are the account's
// defaults and receive the folders of the same name.
//
// Exit status: 0 when the run finished, even if entries were skipped (the summary lists each one
// with its reason: a malformed mbox entry with its line, an unreadable file with its path); 1 on a
// fatal error (no such user, unreadable source, store unavailable, over quota); 2 on bad usage.
// A run interrupted by a fatal error leaves the messages already imported in place.
//
// Runs in the main thread through run_on_store (admin_context.hpp). Reading the source files
// happens on the main thread (it is this tool's only job).
#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <map>
#include <string>
#include <vector>

#include "app/admin_context.hpp"
#include "app/commands.hpp"
#include "mailfile/maildir.hpp"
#include "mailfile/mbox.hpp"
#include "base/blocking_pool.hpp"
#include "base/run_sync.hpp"
#include "store/store.hpp"

namespace posthorn::app {

namespace {

namespace asio = boost::asio;
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kBatchMessages = 100;
constexpr std::size_t kBatchBytes = 32 * 1024 * 1024;
constexpr uint64_t kMaxMessageBytes = 256ull * 1024 * 1024;  // larger source messages are skipped
constexpr std::size_t kBlobReadChunk = 1024 * 1024;
constexpr auto kProgressInterval = std::chrono::milliseconds(250);

// "12,345"
std::string grouped(uint64_t n) {
  std::string digits = std::to_string(n);
  std::string out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i != 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

std::string megabytes(uint64_t bytes) { return grouped((bytes + 512 * 1024) / (1024 * 1024)) + " MB"; }

// Counts, the per-folder table, skipped entries and the progress line on a terminal.
class Report {
 public:
  Report() : start_(Clock::now()), tty_(::isatty(STDERR_FILENO) != 0) {}

  void counted(const std::string& folder, uint64_t bytes) {
    ++messages_;
    bytes_ += bytes;
    ++per_folder_[folder];
    maybe_progress();
  }
  void folder_seen(const std::string& folder) { per_folder_.try_emplace(folder, 0); }
  void skipped(std::string where, std::string reason) { skipped_.push_back(std::move(where) + ": " + std::move(reason)); }
  void warning(std::string text) { warnings_.push_back(std::move(text)); }

  void maybe_progress() {
    if (!tty_) return;
    const auto now = Clock::now();
    if (now - last_progress_ < kProgressInterval) return;
    last_progress_ = now;
    std::fprintf(stderr, "\r%s messages  %s  %s/s\033[K", grouped(messages_).c_str(), megabytes(bytes_).c_str(),
                 grouped(rate()).c_str());
    progress_shown_ = true;
  }

  // The summary on stdout; `verb` is "imported" or "exported".
  void print(std::string_view verb, std::string_view where) {
    if (progress_shown_) std::fprintf(stderr, "\r\033[K");
    const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    std::printf("%s %s messages (%s) %s in %.1f s (%s messages/s)\n", std::string(verb).c_str(),
                grouped(messages_).c_str(), megabytes(bytes_).c_str(), std::string(where).c_str(), secs,
                grouped(rate()).c_str());
    std::size_t width = 0;
    for (const auto& [name, n] : per_folder_) width = std::max(width, name.size());
    for (const auto& [name, n] : per_folder_) {
      std::printf("  %-*s  %s\n", static_cast<int>(width), name.c_str(), grouped(n).c_str());
    }
    if (!skipped_.empty()) {
      std::printf("skipped %s entr%s:\n", grouped(skipped_.size()).c_str(), skipped_.size() == 1 ? "y" : "ies");
      for (const auto& s : skipped_) std::printf("  %s\n", s.c_str());
    }
    if (!warnings_.empty()) {
      std::printf("warnings:\n");
      for (const auto& w : warnings_) std::printf("  %s\n", w.c_str());
    }
    std::fflush(stdout);
  }

 private:
  uint64_t rate() const {
    const double secs = std::chrono::duration<double>(Clock::now() - start_).count();
    return secs > 0 ? static_cast<uint64_t>(static_cast<double>(messages_) / secs) : 0;
  }

  Clock::time_point start_;
  Clock::time_point last_progress_{};
  bool tty_ = false;
  bool progress_shown_ = false;
  uint64_t messages_ = 0;
  uint64_t bytes_ = 0;
  std::map<std::string, uint64_t> per_folder_;
  std::vector<std::string> skipped_;
  std::vector<std::string> warnings_;
};

// A message waiting in the current batch and where it came from (for the skip report).
struct Pending {
  store::AppendMessage message;
  std::string origin;
};

// Appends to one mailbox at a time in batches. A batch the store refuses as a whole because one
// message in it is bad (kInvalid, kTooBig) is retried one message at a time, so only that message
// is skipped; any other error is fatal.
class Importer {
 public:
  Importer(std::shared_ptr<store::Account> account, Report& report) : account_(std::move(account)), report_(report) {}

  // Flushes the previous mailbox and makes `name` current (created when missing).
  asio::awaitable<Result<void>> open_folder(std::string name) {
    auto flushed = co_await flush();
    if (!flushed) co_return flushed.error();
    auto find_task = account_->find_mailbox(name);
    auto found = co_await std::move(find_task);
    if (!found && found.error().code == Errc::kNotFound) {
      auto create_task = account_->create_mailbox(name, store::SpecialUse::kNone);
      auto created = co_await std::move(create_task);
      if (!created && created.error().code != Errc::kExists) {
        co_return make_error(created.error().code, "cannot create mailbox " + name + ": " + created.error().message);
      }
    } else if (!found) {
      co_return found.error();
    }
    auto open_task = account_->open(name);
    auto mailbox = co_await std::move(open_task);
    if (!mailbox) co_return make_error(mailbox.error().code, "cannot open mailbox " + name + ": " + mailbox.error().message);
    mailbox_ = std::move(*mailbox);
    folder_ = std::move(name);
    report_.folder_seen(folder_);
    co_return Result<void>{};
  }

  asio::awaitable<Result<void>> add(store::AppendMessage message, std::string origin) {
    batch_bytes_ += message.bytes.size();
    batch_.push_back({std::move(message), std::move(origin)});
    if (batch_.size() >= kBatchMessages || batch_bytes_ >= kBatchBytes) {
      auto flushed = co_await flush();
      if (!flushed) co_return flushed.error();
    }
    co_return Result<void>{};
  }

  asio::awaitable<Result<void>> flush() {
    if (batch_.empty()) co_return Result<void>{};
    std::vector<Pending> batch = std::move(batch_);
    batch_.clear();
    batch_bytes_ = 0;
    std::vector<store::AppendMessage> messages;
    messages.reserve(batch.size());
    for (const auto& p : batch) messages.push_back(p.message);
    auto task = mailbox_->append_many(std::move(messages));
    auto appended = co_await std::move(task);
    if (appended) {
      for (const auto& p : batch) report_.counted(folder_, p.message.bytes.size());
      co_return Result<void>{};
    }
    if (!skippable(appended.error())) co_return fatal(appended.error());
    for (auto& p : batch) {
      const uint64_t size = p.message.bytes.size();
      auto one_task = mailbox_->append(std::move(p.message));
      auto one = co_await std::move(one_task);
      if (one) {
        report_.counted(folder_, size);
      } else if (skippable(one.error())) {
        report_.skipped(p.origin, one.error().message);
      } else {
        co_return fatal(one.error());
      }
    }
    co_return Result<void>{};
  }

 private:
  static bool skippable(const Error& e) { return e.code == Errc::kInvalid || e.code == Errc::kTooBig; }
  Error fatal(const Error& e) const {
    if (e.code == Errc::kOverQuota) {
      return make_error(e.code, "the account is over its quota (" + e.message +
                                    "); raise it with posthorn user passwd ADDRESS --quota SIZE and run the import "
                                    "again into an empty account, or import the rest with --mailbox");
    }
    return make_error(e.code, "cannot store into " + folder_ + ": " + e.message);
  }

  std::shared_ptr<store::Account> account_;
  Report& report_;
  std::unique_ptr<store::Mailbox> mailbox_;
  std::string folder_;
  std::vector<Pending> batch_;
  std::size_t batch_bytes_ = 0;
};

asio::awaitable<Result<void>> import_maildir(std::shared_ptr<store::Account> account, fs::path dir, Report* report) {
  auto tree = mailfile::read_maildir_tree(dir);
  if (!tree) co_return make_error(tree.error().code, tree.error().message + "; give the folder that holds cur/ and new/");
  for (const auto& p : tree->problems) report->skipped(p.path.string(), p.reason);
  Importer importer(account, *report);
  uint64_t unknown_letters = 0;
  for (const auto& folder : tree->folders) {
    std::vector<mailfile::MaildirProblem> problems;
    auto messages = mailfile::list_maildir_messages(folder, problems);
    for (const auto& p : problems) report->skipped(p.path.string(), p.reason);
    if (!messages) {
      report->skipped(folder.path.string(), messages.error().message);
      continue;
    }
    auto open_task = importer.open_folder(folder.name);
    auto opened = co_await std::move(open_task);
    if (!opened) co_return opened.error();
    for (auto& m : *messages) {
      auto bytes = mailfile::read_file(m.path, kMaxMessageBytes);
      if (!bytes) {
        report->skipped(m.path.string(), bytes.error().message);
        continue;
      }
      if (bytes->empty()) {
        report->skipped(m.path.string(), "empty file");
        continue;
      }
      for (char c : m.unknown_flags) unknown_letters += (c >= 'a' && c <= 'z') ? 1 : 0;
      store::AppendMessage msg{std::move(*bytes), std::move(m.flags), m.internal_date};
      auto add_task = importer.add(std::move(msg), m.path.string());
      auto added = co_await std::move(add_task);
      if (!added) co_return added.error();
    }
  }
  auto flushed = co_await importer.flush();
  if (!flushed) co_return flushed.error();
  if (unknown_letters != 0) {
    report->warning(grouped(unknown_letters) + " keyword letters had no entry in dovecot-keywords and were ignored");
  }
  for (const auto& name : tree->subscriptions) {
    auto subscribe_task = account->set_subscribed(name, true);
    auto r = co_await std::move(subscribe_task);
    if (!r) report->warning("cannot subscribe to " + name + ": " + r.error().message);
  }
  co_return Result<void>{};
}

asio::awaitable<Result<void>> import_mbox(std::shared_ptr<store::Account> account, std::string file, std::string mailbox,
                                          Report* report) {
  mailfile::MboxOptions options;
  options.max_message_bytes = kMaxMessageBytes;
  auto reader = mailfile::MboxReader::open(file, options);
  if (!reader) co_return reader.error();
  Importer importer(account, *report);
  auto open_task = importer.open_folder(mailbox);
  auto opened = co_await std::move(open_task);
  if (!opened) co_return opened.error();
  while (true) {
    auto entry = (*reader)->next();
    if (!entry) co_return entry.error();
    if (!*entry) break;
    auto& e = **entry;
    const std::string where = file + " line " + std::to_string(e.line);
    if (!e.error.empty()) {
      report->skipped(where, e.error);
      continue;
    }
    for (const auto& w : e.warnings) report->warning(where + ": " + w);
    store::AppendMessage msg{std::move(e.bytes), std::move(e.flags), e.internal_date};
    auto add_task = importer.add(std::move(msg), where);
    auto added = co_await std::move(add_task);
    if (!added) co_return added.error();
  }
  auto flushed = co_await importer.flush();
  if (!flushed) co_return flushed.error();
  co_return Result<void>{};
}

asio::awaitable<Result<std::string>> read_blob(std::unique_ptr<store::MessageBlob> blob) {
  std::string out;
  out.reserve(blob->size());
  while (out.size() < blob->size()) {
    auto read_task = blob->read(out.size(), kBlobReadChunk);
    auto chunk = co_await std::move(read_task);
    if (!chunk) co_return chunk.error();
    if (chunk->empty()) break;  // shorter than announced: keep what there is
    out += *chunk;
  }
  co_return out;
}

asio::awaitable<Result<void>> export_maildir(std::shared_ptr<store::Account> account, fs::path dir, Report* report) {
  auto writer = mailfile::MaildirWriter::create(dir);
  if (!writer) co_return writer.error();
  auto list_task = account->list_mailboxes();
  auto mailboxes = co_await std::move(list_task);
  if (!mailboxes) co_return mailboxes.error();
  for (const auto& info : *mailboxes) {
    report->folder_seen(info.name);
    if (auto r = writer->folder(info.name); !r) co_return r.error();
    auto open_task = account->open(info.name);
    auto mailbox = co_await std::move(open_task);
    if (!mailbox) co_return make_error(mailbox.error().code, "cannot open " + info.name + ": " + mailbox.error().message);
    auto select_task = (*mailbox)->select(false);
    auto view = co_await std::move(select_task);
    if (!view) co_return make_error(view.error().code, "cannot read " + info.name + ": " + view.error().message);
    for (const auto& m : view->messages) {
      const std::string where = info.name + " UID " + std::to_string(m.uid);
      auto blob_task = (*mailbox)->open_message(m.uid);
      auto blob = co_await std::move(blob_task);
      if (!blob && blob.error().code == Errc::kNotFound) {
        report->skipped(where, "expunged while exporting");
        continue;
      }
      if (!blob) co_return blob.error();
      auto read_task = read_blob(std::move(*blob));
      auto bytes = co_await std::move(read_task);
      if (!bytes) co_return bytes.error();
      auto written = writer->write(info.name, *bytes, m.flags, m.internal_date);
      if (!written) co_return written.error();
      for (const auto& k : written->dropped_keywords) {
        report->warning(where + ": keyword " + k + " not written (a maildir folder holds at most 26 keywords)");
      }
      report->counted(info.name, bytes->size());
    }
  }
  auto subs_task = account->list_subscriptions();
  auto subscriptions = co_await std::move(subs_task);
  if (!subscriptions) co_return subscriptions.error();
  if (auto r = writer->finish(*subscriptions); !r) co_return r.error();
  co_return Result<void>{};
}

// The job of one run, on an open account.
asio::awaitable<Result<void>> run_job(store::MailStore* store, auth::Account user, TransferArgs args, Report* report) {
  store::Limits limits;
  limits.storage_bytes = user.quota_bytes;
  auto account_task = store->account(user.id, limits);
  auto account = co_await std::move(account_task);
  if (!account) co_return account.error();
  if (args.direction == TransferArgs::kExport) {
    auto job = export_maildir(*account, args.path, report);
    auto r = co_await std::move(job);
    co_return r;
  }
  if (args.format == "maildir") {
    auto job = import_maildir(*account, args.path, report);
    auto r = co_await std::move(job);
    co_return r;
  }
  auto job = import_mbox(*account, args.path.string(), args.mailbox, report);
  auto r = co_await std::move(job);
  co_return r;
}

}  // namespace

int cmd_transfer(const TransferArgs& args) {
  const std::string verb = args.direction == TransferArgs::kExport ? "export" : "import";
  auto a = open_admin("posthorn " + verb + " " + args.format, args.config_file);
  if (!a) return 1;
  TransferArgs job = args;
  if (job.direction == TransferArgs::kImport && job.format == "mbox") {
    auto name = store::canonical_mailbox_name(job.mailbox.empty() ? "INBOX" : job.mailbox);
    if (!name) return a->fail("--mailbox \"" + job.mailbox + "\": " + name.error().message);
    job.mailbox = *name;
  }
  auto user = run_sync(a->dir->find_account(job.address));
  if (!user && user.error().code == Errc::kNotFound) {
    return a->fail("no user " + job.address + "; add it first with posthorn user add " + job.address);
  }
  if (!user) return a->fail(user.error());

  Report report;
  const auth::Account account = *user;
  Result<void> result = run_on_store(*a, [account, job, &report](store::MailStore* store) {
    return run_job(store, account, job, &report);
  });
  const std::string where = (verb == "import" ? "into " : "from ") + user->address;
  report.print(verb == "import" ? "imported" : "exported", where);
  if (!result) return a->fail(result.error().message);
  return 0;
}

}  // namespace posthorn::app
