// posthorn migrate --to TARGET (issue 20 item 3, docs/cluster.md "Moving an installation"): copies a
// whole installation from the configured backend into another one, SQLite to PostgreSQL or back, so
// that clients do not resync, then verifies the copy.
//
// TARGET is `postgresql://USER[:PASSWORD]@HOST:PORT/DB` (or postgres://, or key=value form starting
// with "host="): an empty database, whose schema the normal open creates; or `sqlite:PATH`: a data
// folder that does not exist yet or is empty. A non-empty target is refused before anything is
// written. With --account ADDRESS only that account moves (its domain is added to the target when
// missing; the queue and aliases stay), into a target that may hold others but not that address.
//
// What moves, through the store interfaces only (the same walk serves every pair of backends):
//   the directory: domains, accounts with their password hashes, SCRAM data, quotas and creation
//     times unchanged (auth::Directory::import_account), aliases and catch-alls;
//   per account: the POP3 policy, subscriptions, every mailbox with its UIDVALIDITY, UIDNEXT,
//     HIGHESTMODSEQ and special use (store::Account::restore_mailbox; a new account's default
//     mailboxes the source lacks are removed again), and every message with its UID, MODSEQ, flags,
//     keywords, internal date, save date and exact bytes (store::Mailbox::image_page, then
//     restore_messages in batches of kBatchMessages or kBatchBytes);
//   the outbound queue: entries with their recipients' states, attempts, next attempt and bounce
//     flags (queue::Queue::import_entry);
//   the DKIM signing keys (msgauth::DkimKeyStore); with --account those of the account's domain
//     that the target lacks.
// Not moved: the QRESYNC expunge log (a client resyncing from before the move learns of earlier
// expunges by UID comparison, as after a server that keeps no log), POP3's per-message retrieval
// marks, the DMARC/TLS-RPT logs (their report windows restart).
//
// Memory: a mailbox is read page by page (kPageMessages), a message in kReadChunk pieces; a message
// above kSpoolAbove goes through a temp file (base/spool.hpp) instead of memory, so neither a large
// mailbox nor a large message is held whole.
//
// Verification, after the copy: the directory (every account's hash, SCRAM data, quota; domains,
// aliases, DKIM keys), per mailbox its UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ, and per message its UID, MODSEQ,
// flags, dates, size and the SHA-256 of its bytes read back from both stores, and every queue entry
// with the SHA-256 of its message. Any difference is listed (the first kShownMismatches) and the
// exit status is 1. The summary on stdout: accounts, mailboxes, messages, bytes, queue entries,
// seconds. Exit 2 on bad usage. The server must be stopped during the move (nothing locks the source).
// A database URL is always shown without its password (store::pg::redact_url).
#include <fmt/format.h>
#include <sys/stat.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "app/backends.hpp"
#include "app/commands.hpp"
#include "auth/directory.hpp"
#include "base/ascii.hpp"
#include "base/blocking_pool.hpp"
#include "base/crypto.hpp"
#include "base/run_sync.hpp"
#include "base/spool.hpp"
#include "config/config.hpp"
#include "queue/queue.hpp"
#include "store/pg/pg_client.hpp"
#include "store/store.hpp"

namespace posthorn::app {

namespace {

namespace fs = std::filesystem;
using store::Task;
using Clock = std::chrono::steady_clock;

constexpr std::size_t kPageMessages = 500;           // message metadata read at a time
constexpr std::size_t kBatchMessages = 100;          // messages per restore transaction, at most
constexpr uint64_t kBatchBytes = 32ull << 20;        // ... and their bytes
constexpr uint64_t kSpoolAbove = 4ull << 20;         // larger messages go through a temp file
constexpr std::size_t kReadChunk = 1u << 20;         // bytes read from a MessageBlob at a time
constexpr std::size_t kShownMismatches = 20;
constexpr std::size_t kPoolThreads = 2;

constexpr const char* kCommand = "posthorn migrate";

int fail(std::string_view message) {
  std::fprintf(stderr, "%s: %s\n", kCommand, std::string(message).c_str());
  return 1;
}

// Where --to points.
struct Target {
  config::StoreBackend backend = config::StoreBackend::kSqlite;
  std::string url;    // postgresql
  fs::path data_dir;  // sqlite
  std::string shown;  // for messages: "postgresql postgresql://u@h/db" (no password) or the folder
};

std::optional<Target> parse_target(std::string_view to) {
  Target t;
  if (ascii::istarts_with(to, "postgresql://") || ascii::istarts_with(to, "postgres://") ||
      ascii::istarts_with(to, "host=")) {
    t.backend = config::StoreBackend::kPostgresql;
    t.url = std::string(to);
    t.shown = "postgresql " + store::pg::redact_url(to);
    return t;
  }
  if (ascii::istarts_with(to, "sqlite:") && to.size() > 7) {
    t.backend = config::StoreBackend::kSqlite;
    std::error_code ec;
    t.data_dir = fs::absolute(fs::path(std::string(to.substr(7))), ec).lexically_normal();
    if (ec) return std::nullopt;
    t.shown = t.data_dir.string();
    return t;
  }
  return std::nullopt;
}

// Counts of what moved, and the differences verification found.
struct Run {
  Run(Backends& f, Backends& t, fs::path spool) : from(f), to(t), spool_dir(std::move(spool)) {}
  Backends& from;
  Backends& to;
  fs::path spool_dir;  // temp files of large messages
  uint64_t accounts = 0;
  uint64_t mailboxes = 0;
  uint64_t messages = 0;
  uint64_t bytes = 0;
  uint64_t queue_entries = 0;
  uint64_t dkim_keys = 0;
  std::vector<std::string> mismatches;
  uint64_t mismatch_count = 0;

  void mismatch(std::string what) {
    ++mismatch_count;
    if (mismatches.size() < kShownMismatches) mismatches.push_back(std::move(what));
  }
};

Error context(const Error& e, std::string_view what) { return make_error(e.code, std::string(what) + ": " + e.message); }

// ---- reading messages ----

// One message's bytes and metadata from the source, in memory or (large) in a temp file.
Task<store::RestoredMessage> read_message(store::Mailbox& box, const store::MessageInfo& info, const fs::path& spool_dir) {
  auto blob = co_await box.open_message(info.uid);
  if (!blob) co_return blob.error();
  store::RestoredMessage m;
  m.info = info;
  const uint64_t size = (*blob)->size();
  std::shared_ptr<Spool> spool;
  if (size > kSpoolAbove) spool = std::make_shared<Spool>(spool_dir, 0, nullptr);
  for (uint64_t offset = 0; offset < size;) {
    auto piece = co_await (*blob)->read(offset, kReadChunk);
    if (!piece) co_return piece.error();
    if (piece->empty()) co_return make_error(Errc::kInternal, "message shorter than its size");
    offset += piece->size();
    if (spool) {
      if (auto r = spool->append(*piece); !r) co_return r.error();
    } else {
      m.bytes += *piece;
    }
  }
  m.spool = std::move(spool);
  co_return m;
}

// The SHA-256 (hex) of one stored message, read in chunks; its size through `size`.
Task<std::string> hash_message(store::Mailbox& box, store::Uid uid, uint64_t* size) {
  auto blob = co_await box.open_message(uid);
  if (!blob) co_return blob.error();
  Sha256 hash;
  *size = (*blob)->size();
  for (uint64_t offset = 0; offset < *size;) {
    auto piece = co_await (*blob)->read(offset, kReadChunk);
    if (!piece) co_return piece.error();
    if (piece->empty()) co_return make_error(Errc::kInternal, "message shorter than its size");
    offset += piece->size();
    hash.update(*piece);
  }
  co_return hash.hex();
}

// ---- the copy ----

Task<void> flush(store::Mailbox& box, std::vector<store::RestoredMessage>& batch, uint64_t& batch_bytes) {
  if (batch.empty()) co_return Result<void>{};
  auto task = box.restore_messages(std::move(batch));
  auto done = co_await std::move(task);
  batch.clear();
  batch_bytes = 0;
  co_return done;
}

Task<void> copy_mailbox(Run& run, store::Account& from, store::Account& to, const store::MailboxInfo& info) {
  const std::string where = "mailbox " + info.name;
  auto restored_task = to.restore_mailbox(info);
  auto restored = co_await std::move(restored_task);
  if (!restored) co_return context(restored.error(), where);
  auto src = co_await from.open_id(info.id);
  if (!src) co_return context(src.error(), where);
  auto dst = co_await to.open_id(restored->id);
  if (!dst) co_return context(dst.error(), where);
  std::vector<store::RestoredMessage> batch;
  uint64_t batch_bytes = 0;
  store::Uid after = 0;
  for (;;) {
    auto page = co_await (*src)->image_page(after, kPageMessages);
    if (!page) co_return context(page.error(), where);
    if (page->empty()) break;
    for (const auto& m : *page) {
      auto message = co_await read_message(**src, m, run.spool_dir);
      if (!message) co_return context(message.error(), where + " UID " + std::to_string(m.uid));
      const uint64_t size = message->spool ? message->spool->size() : message->bytes.size();
      batch.push_back(std::move(*message));
      batch_bytes += size;
      ++run.messages;
      run.bytes += size;
      after = m.uid;
      if (batch.size() >= kBatchMessages || batch_bytes >= kBatchBytes) {
        if (auto r = co_await flush(**dst, batch, batch_bytes); !r) co_return context(r.error(), where);
      }
    }
  }
  if (auto r = co_await flush(**dst, batch, batch_bytes); !r) co_return context(r.error(), where);
  ++run.mailboxes;
  co_return Result<void>{};
}

store::Limits limits_of(const auth::Account& a) {
  store::Limits limits;
  limits.storage_bytes = a.quota_bytes;
  return limits;
}

// One account's mail: mailboxes, messages, subscriptions, POP3 policy. `to_id`: its id in the target.
Task<void> copy_mail(Run& run, const auth::Account& account, auth::AccountId to_id) {
  const store::Limits limits = limits_of(account);
  auto from = co_await run.from.store().account(account.id, limits);
  if (!from) co_return from.error();
  auto to = co_await run.to.store().account(to_id, limits);
  if (!to) co_return to.error();
  auto boxes = co_await (*from)->list_mailboxes();
  if (!boxes) co_return boxes.error();
  std::set<std::string> names;
  for (const auto& info : *boxes) {
    names.insert(info.name);
    if (auto r = co_await copy_mailbox(run, **from, **to, info); !r) co_return r.error();
  }
  // A new account's default mailboxes that the source had deleted; children before parents.
  auto made = co_await (*to)->list_mailboxes();
  if (!made) co_return made.error();
  for (auto it = made->rbegin(); it != made->rend(); ++it) {
    if (names.count(it->name) != 0) continue;
    auto task = (*to)->delete_mailbox(it->name);
    if (auto r = co_await std::move(task); !r) co_return context(r.error(), "mailbox " + it->name);
  }
  auto subscribed = co_await (*from)->list_subscriptions();
  if (!subscribed) co_return subscribed.error();
  auto target_subscribed = co_await (*to)->list_subscriptions();
  if (!target_subscribed) co_return target_subscribed.error();
  const std::set<std::string> wanted(subscribed->begin(), subscribed->end());
  for (const auto& name : *target_subscribed) {
    if (wanted.count(name) != 0) continue;
    auto task = (*to)->set_subscribed(name, false);
    if (auto r = co_await std::move(task); !r) co_return r.error();
  }
  for (const auto& name : *subscribed) {
    auto task = (*to)->set_subscribed(name, true);
    if (auto r = co_await std::move(task); !r) co_return r.error();
  }
  auto inbox = co_await (*from)->open("INBOX");
  if (!inbox) co_return inbox.error();
  auto drop = co_await (*inbox)->maildrop();
  if (!drop) co_return drop.error();
  if (!drop->pop3_policy.empty()) {
    auto task = (*to)->set_pop3_policy(drop->pop3_policy);
    if (auto r = co_await std::move(task); !r) co_return r.error();
  }
  ++run.accounts;
  co_return Result<void>{};
}

Task<void> copy_account(Run& run, const auth::Account& account) {
  auto task = run.to.directory().import_account(account);
  auto made = co_await std::move(task);
  if (!made) co_return context(made.error(), "account " + account.address);
  auto copied = co_await copy_mail(run, account, made->id);
  if (!copied) co_return context(copied.error(), "account " + account.address);
  co_return Result<void>{};
}

Task<void> copy_queue(Run& run) {
  auto entries = co_await run.from.queue().list();
  if (!entries) co_return entries.error();
  for (const auto& e : *entries) {
    auto message = co_await run.from.queue().read_message(e.id);
    if (!message) co_return context(message.error(), "queue entry " + e.id);
    auto task = run.to.queue().import_entry(e, std::move(*message));
    if (auto r = co_await std::move(task); !r) co_return context(r.error(), "queue entry " + e.id);
    ++run.queue_entries;
  }
  co_return Result<void>{};
}

// The accounts to move: all, or the one named by --account.
Task<std::vector<auth::Account>> source_accounts(Run& run, const std::string& only) {
  if (only.empty()) {
    auto all = co_await run.from.directory().list_accounts();
    co_return all;
  }
  auto task = run.from.directory().find_account(only);
  auto one = co_await std::move(task);
  if (!one) co_return context(one.error(), "account " + only);
  std::vector<auth::Account> out;
  out.push_back(std::move(*one));
  co_return out;
}

// kExists (a one-line reason) unless the target can take what moves.
Task<void> check_target(Run& run, const std::string& only) {
  auth::Directory& dir = run.to.directory();
  if (!only.empty()) {
    auto task = dir.find_account(only);
    auto found = co_await std::move(task);
    if (found) co_return make_error(Errc::kExists, "the target already has an account " + found->address);
    if (found.error().code != Errc::kNotFound) co_return found.error();
    co_return Result<void>{};
  }
  auto domains = co_await dir.list_domains();
  if (!domains) co_return domains.error();
  auto accounts = co_await dir.list_accounts();
  if (!accounts) co_return accounts.error();
  auto aliases = co_await dir.list_aliases();
  if (!aliases) co_return aliases.error();
  auto entries = co_await run.to.queue().list();
  if (!entries) co_return entries.error();
  auto keys = co_await run.to.dkim_keys().list();
  if (!keys) co_return keys.error();
  if (!domains->empty() || !accounts->empty() || !aliases->empty() || !entries->empty() || !keys->empty()) {
    co_return make_error(Errc::kExists, fmt::format("the target is not empty ({} domains, {} accounts, {} aliases, "
                                                    "{} queue entries, {} DKIM keys); migrate into an empty one",
                                                    domains->size(), accounts->size(), aliases->size(), entries->size(),
                                                    keys->size()));
  }
  co_return Result<void>{};
}

// Every DKIM key, or (`domains` given) those of these domains whose selector the target lacks.
Task<void> copy_dkim_keys(Run& run, const std::set<std::string>* domains) {
  auto keys = co_await run.from.dkim_keys().list();
  if (!keys) co_return context(keys.error(), "DKIM keys");
  for (auto& key : *keys) {
    if (domains && domains->count(key.domain) == 0) continue;
    const std::string name = key.domain + "/" + key.selector;
    auto task = run.to.dkim_keys().add(std::move(key));
    auto added = co_await std::move(task);
    if (!added && domains && added.error().code == Errc::kExists) continue;
    if (!added) co_return context(added.error(), "DKIM key " + name);
    ++run.dkim_keys;
  }
  co_return Result<void>{};
}

Task<void> copy_all(Run& run, const std::string& only) {
  auto accounts = co_await source_accounts(run, only);
  if (!accounts) co_return accounts.error();
  auto domains = co_await run.from.directory().list_domains();
  if (!domains) co_return domains.error();
  std::set<std::string> needed;
  for (const auto& a : *accounts) {
    if (auto parts = auth::split_address(a.address)) needed.insert(parts->domain);
  }
  for (const auto& d : *domains) {
    if (!only.empty() && needed.count(d) == 0) continue;
    auto task = run.to.directory().add_domain(d);
    auto added = co_await std::move(task);
    if (!added && !(only.size() && added.error().code == Errc::kExists)) co_return context(added.error(), "domain " + d);
  }
  if (auto r = co_await copy_dkim_keys(run, only.empty() ? nullptr : &needed); !r) co_return r.error();
  for (const auto& a : *accounts) {
    if (auto r = co_await copy_account(run, a); !r) co_return r.error();
  }
  if (!only.empty()) co_return Result<void>{};
  auto aliases = co_await run.from.directory().list_aliases();
  if (!aliases) co_return aliases.error();
  for (const auto& alias : *aliases) {
    auto task = run.to.directory().add_alias(alias.address, alias.targets);
    if (auto r = co_await std::move(task); !r) co_return context(r.error(), "alias " + alias.address);
  }
  auto queued = co_await copy_queue(run);
  co_return queued;
}

// ---- verification ----

std::string flags_text(const store::Flags& f) {
  std::string out = std::to_string(int(f.system));
  for (const auto& k : f.keywords) out += " " + k;
  return out;
}

Task<void> verify_mailbox(Run& run, store::Account& from, store::Account& to, const store::MailboxInfo& info,
                          const std::string& who) {
  const std::string where = who + " " + info.name;
  auto task = to.find_mailbox(info.name);
  auto other = co_await std::move(task);
  if (!other) {
    run.mismatch(where + ": missing in the target");
    co_return Result<void>{};
  }
  if (other->uid_validity != info.uid_validity || other->uid_next != info.uid_next ||
      other->highest_modseq != info.highest_modseq || other->special_use != info.special_use) {
    run.mismatch(fmt::format("{}: UIDVALIDITY/UIDNEXT/HIGHESTMODSEQ {}/{}/{} in the source, {}/{}/{} in the target",
                             where, info.uid_validity, info.uid_next, info.highest_modseq, other->uid_validity,
                             other->uid_next, other->highest_modseq));
  }
  auto a = co_await from.open_id(info.id);
  if (!a) co_return a.error();
  auto b = co_await to.open_id(other->id);
  if (!b) co_return b.error();
  store::Uid after = 0;
  for (;;) {
    auto left = co_await (*a)->image_page(after, kPageMessages);
    if (!left) co_return left.error();
    auto right = co_await (*b)->image_page(after, kPageMessages);
    if (!right) co_return right.error();
    if (left->empty() && right->empty()) break;
    if (left->size() != right->size()) {
      run.mismatch(fmt::format("{}: {} messages above UID {} in the source, {} in the target", where, left->size(),
                               after, right->size()));
      break;
    }
    for (std::size_t i = 0; i < left->size(); ++i) {
      const auto& l = (*left)[i];
      const auto& r = (*right)[i];
      const std::string msg = where + " UID " + std::to_string(l.uid);
      if (l.uid != r.uid) {
        run.mismatch(fmt::format("{}: UID {} in the target", msg, r.uid));
        co_return Result<void>{};
      }
      if (l.modseq != r.modseq || !(l.flags == r.flags) || l.internal_date != r.internal_date ||
          l.save_date != r.save_date || l.size != r.size) {
        run.mismatch(fmt::format("{}: MODSEQ/flags/date/size {}/{}/{}/{} in the source, {}/{}/{}/{} in the target", msg,
                                 l.modseq, flags_text(l.flags), l.internal_date, l.size, r.modseq,
                                 flags_text(r.flags), r.internal_date, r.size));
      }
      uint64_t lsize = 0;
      uint64_t rsize = 0;
      auto lh = co_await hash_message(**a, l.uid, &lsize);
      if (!lh) co_return context(lh.error(), msg);
      auto rh = co_await hash_message(**b, r.uid, &rsize);
      if (!rh) co_return context(rh.error(), msg);
      if (*lh != *rh) run.mismatch(msg + ": SHA-256 " + *lh + " in the source, " + *rh + " in the target");
      after = l.uid;
    }
  }
  co_return Result<void>{};
}

Task<void> verify_account(Run& run, const auth::Account& account) {
  auto task = run.to.directory().find_account(account.address);
  auto other = co_await std::move(task);
  if (!other) {
    run.mismatch("account " + account.address + ": missing in the target");
    co_return Result<void>{};
  }
  if (other->password_hash != account.password_hash || other->scram != account.scram ||
      other->quota_bytes != account.quota_bytes || other->created_at != account.created_at) {
    run.mismatch("account " + account.address + ": credentials, quota or creation time differ");
  }
  const store::Limits limits = limits_of(account);
  auto from = co_await run.from.store().account(account.id, limits);
  if (!from) co_return from.error();
  auto to = co_await run.to.store().account(other->id, limits);
  if (!to) co_return to.error();
  auto left = co_await (*from)->list_mailboxes();
  if (!left) co_return left.error();
  auto right = co_await (*to)->list_mailboxes();
  if (!right) co_return right.error();
  if (left->size() != right->size()) {
    run.mismatch(fmt::format("account {}: {} mailboxes in the source, {} in the target", account.address, left->size(),
                             right->size()));
  }
  for (const auto& info : *left) {
    if (auto r = co_await verify_mailbox(run, **from, **to, info, account.address); !r) co_return r.error();
  }
  auto ls = co_await (*from)->list_subscriptions();
  if (!ls) co_return ls.error();
  auto rs = co_await (*to)->list_subscriptions();
  if (!rs) co_return rs.error();
  std::sort(ls->begin(), ls->end());
  std::sort(rs->begin(), rs->end());
  if (*ls != *rs) run.mismatch("account " + account.address + ": subscriptions differ");
  co_return Result<void>{};
}

Task<void> verify_queue(Run& run) {
  auto left = co_await run.from.queue().list();
  if (!left) co_return left.error();
  auto right = co_await run.to.queue().list();
  if (!right) co_return right.error();
  if (left->size() != right->size()) {
    run.mismatch(fmt::format("queue: {} entries in the source, {} in the target", left->size(), right->size()));
  }
  for (const auto& e : *left) {
    auto task = run.to.queue().get(e.id);
    auto other = co_await std::move(task);
    if (!other) {
      run.mismatch("queue entry " + e.id + ": missing in the target");
      continue;
    }
    bool same = other->sender == e.sender && other->size == e.size && other->created == e.created &&
                other->next_attempt == e.next_attempt && other->is_bounce == e.is_bounce &&
                other->bounce_needed == e.bounce_needed && other->ret == e.ret && other->envid == e.envid &&
                other->smtputf8 == e.smtputf8 && other->eight_bit == e.eight_bit &&
                other->delay_notified == e.delay_notified && other->recipients.size() == e.recipients.size();
    for (std::size_t i = 0; same && i < e.recipients.size(); ++i) {
      const auto& a = e.recipients[i];
      const auto& b = other->recipients[i];
      same = a.address == b.address && a.state == b.state && a.last_error == b.last_error && a.attempts == b.attempts &&
             a.notify == b.notify && a.orcpt == b.orcpt && a.reported == b.reported;
    }
    if (!same) run.mismatch("queue entry " + e.id + ": its fields or recipients differ");
    auto lm = co_await run.from.queue().read_message(e.id);
    if (!lm) co_return lm.error();
    auto rm = co_await run.to.queue().read_message(e.id);
    if (!rm) co_return rm.error();
    if (sha256_hex(*lm) != sha256_hex(*rm)) run.mismatch("queue entry " + e.id + ": message bytes differ");
  }
  co_return Result<void>{};
}

Task<void> verify_all(Run& run, const std::string& only) {
  auto accounts = co_await source_accounts(run, only);
  if (!accounts) co_return accounts.error();
  for (const auto& a : *accounts) {
    if (auto r = co_await verify_account(run, a); !r) co_return context(r.error(), "verifying " + a.address);
  }
  if (!only.empty()) co_return Result<void>{};
  auto ld = co_await run.from.directory().list_domains();
  if (!ld) co_return ld.error();
  auto rd = co_await run.to.directory().list_domains();
  if (!rd) co_return rd.error();
  std::sort(ld->begin(), ld->end());
  std::sort(rd->begin(), rd->end());
  if (*ld != *rd) run.mismatch("domains differ");
  auto la = co_await run.from.directory().list_aliases();
  if (!la) co_return la.error();
  auto ra = co_await run.to.directory().list_aliases();
  if (!ra) co_return ra.error();
  std::map<std::string, std::vector<std::string>> lmap;
  std::map<std::string, std::vector<std::string>> rmap;
  for (const auto& a : *la) lmap[ascii::lower(a.address)] = a.targets;
  for (const auto& a : *ra) rmap[ascii::lower(a.address)] = a.targets;
  if (lmap != rmap) run.mismatch("aliases differ");
  auto lk = co_await run.from.dkim_keys().list();
  if (!lk) co_return lk.error();
  auto rk = co_await run.to.dkim_keys().list();
  if (!rk) co_return rk.error();
  if (*lk != *rk) run.mismatch("DKIM keys differ");
  auto q = co_await verify_queue(run);
  co_return q;
}

// Copies, then verifies (the target is checked first).
Task<void> migrate(Run& run, const std::string& only) {
  if (auto r = co_await check_target(run, only); !r) co_return r.error();
  if (auto r = co_await copy_all(run, only); !r) co_return r.error();
  auto verified = co_await verify_all(run, only);
  co_return verified;
}

// A folder that does not exist or holds nothing.
bool empty_folder(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) return !ec;
  return fs::is_directory(dir, ec) && fs::is_empty(dir, ec) && !ec;
}

std::string megabytes(uint64_t bytes) { return fmt::format("{:.1f} MB", double(bytes) / (1024.0 * 1024.0)); }

}  // namespace

int cmd_migrate(const MigrateArgs& args) {
  const auto target = parse_target(args.to);
  if (!target) {
    std::fprintf(stderr, "%s: --to must be postgresql://USER@HOST:PORT/DB or sqlite:/path/to/data_dir\n", kCommand);
    return 2;
  }
  auto loaded = config::load(args.config_file);
  if (!loaded) return fail(loaded.error().message);
  const config::Config& cfg = **loaded;
  config::Config to_cfg = cfg;
  to_cfg.store.backend = target->backend;
  if (target->backend == config::StoreBackend::kPostgresql) {
    to_cfg.store.url = target->url;
    if (cfg.store.backend == config::StoreBackend::kPostgresql && cfg.store.url == target->url) {
      return fail("the target is the configured store itself (" + target->shown + ")");
    }
  } else {
    std::error_code ec;
    if (cfg.store.backend == config::StoreBackend::kSqlite &&
        fs::weakly_canonical(cfg.data_dir, ec) == fs::weakly_canonical(target->data_dir, ec)) {
      return fail("the target is the configured data folder itself (" + target->shown + ")");
    }
    if (args.account.empty() && !empty_folder(target->data_dir)) {
      return fail("the target " + target->shown + " is not empty; migrate into a new or empty data folder");
    }
    fs::create_directories(target->data_dir, ec);
    if (ec) return fail("cannot create " + target->shown + ": " + ec.message());
    ::chmod(target->data_dir.c_str(), 0700);
    to_cfg.data_dir = target->data_dir;
  }
  const auto started = Clock::now();
  BlockingPool pool(kPoolThreads);
  auto from = Backends::open(cfg, pool, kAllParts | kDkimKeysPart);
  if (!from) return fail(from.error().message);
  auto to = Backends::open(to_cfg, pool, kAllParts | kDkimKeysPart);
  if (!to) return fail(to.error().message);
  Run run(**from, **to, cfg.store.backend == config::StoreBackend::kSqlite ? cfg.data_dir : fs::path());
  auto done = run_sync(migrate(run, args.account));
  if (!done && done.error().code == Errc::kExists) return fail(target->shown + ": " + done.error().message);
  if (!done) return fail(done.error().message);
  const double seconds = std::chrono::duration<double>(Clock::now() - started).count();
  std::printf("migrated %s to %s: %llu accounts, %llu mailboxes, %llu messages (%s), %llu queue entries, "
              "%llu DKIM keys in %.1f s\n",
              Backends::where(cfg).c_str(), target->shown.c_str(), (unsigned long long)run.accounts,
              (unsigned long long)run.mailboxes, (unsigned long long)run.messages, megabytes(run.bytes).c_str(),
              (unsigned long long)run.queue_entries, (unsigned long long)run.dkim_keys, seconds);
  if (run.mismatch_count != 0) {
    std::fflush(stdout);
    for (const auto& m : run.mismatches) std::fprintf(stderr, "  %s\n", m.c_str());
    return fail(fmt::format("verification failed: {} difference{} between the source and the target (listed above)",
                            run.mismatch_count, run.mismatch_count == 1 ? "" : "s"));
  }
  std::printf("verified: every account, mailbox (UIDVALIDITY, UIDNEXT, HIGHESTMODSEQ), message (UID, MODSEQ, flags, "
              "SHA-256), queue entry and DKIM key matches\n");
  return 0;
}

}  // namespace posthorn::app
