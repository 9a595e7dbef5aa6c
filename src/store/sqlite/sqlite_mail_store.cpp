// Implementation notes
// - SqliteAccount holds two connections to its index.db: write_db_ (used only by the one active
//   writer, see drain()) and read_db_ (reads, under read_mu_, each in a deferred transaction so a
//   read sees one snapshot).
// - Group commit: submit() appends a WriteTicket to queue_; when no writer is active it posts
//   drain() to the pool. drain() takes the whole queue, runs each ticket in a SAVEPOINT of one
//   BEGIN IMMEDIATE transaction, commits once, publishes the events and signals every ticket. It
//   loops until the queue is empty, so a ticket queued while a writer runs is never stranded.
// - A ticket signals its waiter through a one-slot concurrent_channel bound to the waiter's
//   executor, so the coroutine resumes on its own executor, never on a pool thread.
// - Blob bytes are written (and fsync'd) by the caller's own run_blocking step before its ticket is
//   queued: blob fsyncs are per blob, the index fsync is shared.
#include "store/sqlite/sqlite_mail_store.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <boost/asio/experimental/concurrent_channel.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/this_coro.hpp>
#include <algorithm>
#include <cerrno>
#include <chrono>
#include <cstring>
#include <functional>
#include <memory>
#include <optional>
#include <set>
#include <system_error>

#include "base/crypto.hpp"
#include "base/log.hpp"
#include "base/metrics.hpp"
#include "mime/summary.hpp"
#include "store/prepare.hpp"
#include "store/sqlite/account_index.hpp"
#include "store/sqlite/sqlite_db.hpp"

namespace posthorn::store::sqlite {

namespace fs = std::filesystem;

namespace {

int64_t now_seconds() {
  return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

Error account_gone() { return make_error(Errc::kNotFound, "no such account"); }

// Accounts kept open after their last session: opening one costs two SQLite connections and a schema
// check (about a millisecond, most of a cached login), and keeping one costs two mostly empty page
// caches (tens of kilobytes).
constexpr std::size_t kWarmAccounts = 32;

Result<void> make_private_dir(const fs::path& dir) {
  if (::mkdir(dir.c_str(), 0700) != 0 && errno != EEXIST) {
    spdlog::error("mail store: mkdir {}: {}", dir.string(), std::strerror(errno));
    return make_error(Errc::kUnavailable, "mail storage unavailable");
  }
  return {};
}

// Blocking: the index entry of a message whose blob (id: the bytes' SHA-256) holds `bytes`
// (store/prepare.hpp).
index::NewMessage describe(std::string blob_id, std::string_view bytes, std::string prefix, Flags flags,
                           std::optional<int64_t> internal_date, int64_t now,
                           const mime::MessageSummary* parsed = nullptr) {
  return index::NewMessage{describe_message(blob_id, bytes, std::move(prefix), std::move(flags), internal_date, now, parsed),
                           std::move(blob_id)};
}

// Messages ready for the index, with their blobs pinned until the index entries are committed.
struct Prepared {
  std::vector<index::NewMessage> messages;
  std::vector<BlobPin> pins;
};

// Blocking: a spooled message (a big APPEND, issue 28 item 2) copied into its blob a piece at a
// time, normalised as it goes unless binary; the blob is hashed as it is written, then mapped (not
// copied) to be parsed. Memory: one piece, plus the mapped pages while the summary is made.
Result<void> prepare_spooled(BlobStore& blobs, const AppendMessage& message, Flags flags, int64_t now,
                             Prepared& out) {
  SpoolPieces pieces(*message.spool, message.binary);
  auto pin = blobs.put_pinned_from([&](std::string& piece) { return pieces.next(piece); });
  if (!pin) return pin.error();
  auto mapped = blobs.map_blob(pin->id());
  if (!mapped) return mapped.error();
  out.messages.push_back(describe(pin->id(), (*mapped)->bytes(), "", std::move(flags), message.internal_date, now));
  out.pins.push_back(std::move(*pin));
  return {};
}

// Blocking: normalises (unless the message is binary, a literal8 stored byte for byte
// [RFC 3516 §4.3]), stores the blob durably (pinned, into `out`) and describes the message.
Result<void> prepare(BlobStore& blobs, const AppendMessage& message, Flags flags, int64_t now, Prepared& out) {
  if (message.spool) return prepare_spooled(blobs, message, std::move(flags), now, out);
  std::string normalized;
  std::string_view bytes = message.bytes;
  if (!message.binary && has_bare_lf(message.bytes)) {  // a copy only when a lone LF must change
    normalized = normalize_crlf(message.bytes);
    bytes = normalized;
  }
  auto pin = blobs.put_pinned(bytes);
  if (!pin) return pin.error();
  out.messages.push_back(describe(pin->id(), bytes, "", std::move(flags), message.internal_date, now));
  out.pins.push_back(std::move(*pin));
  return {};
}

using Signal = boost::asio::experimental::concurrent_channel<void(boost::system::error_code)>;

// One queued write: `apply` runs inside the group transaction and returns false when it failed
// (its savepoint is then rolled back). `commit_error` is set when the whole transaction failed.
struct WriteTicket {
  explicit WriteTicket(const boost::asio::any_io_executor& ex) : signal(ex, 1) {}
  std::function<bool(Db&, std::vector<ChangeEvent>&)> apply;
  std::optional<Error> commit_error;
  Signal signal;
};

template <class T>
struct Pending {
  std::shared_ptr<WriteTicket> ticket;
  std::shared_ptr<std::optional<Result<T>>> out;
};

template <class T>
Task<T> finish(Pending<T> pending) {
  auto signalled = pending.ticket->signal.async_receive(boost::asio::use_awaitable);
  co_await std::move(signalled);
  if (pending.ticket->commit_error) co_return *pending.ticket->commit_error;
  co_return std::move(**pending.out);
}

}  // namespace

// ---- SqliteAccount ----

class SqliteAccount final : public Account, public std::enable_shared_from_this<SqliteAccount> {
 public:
  SqliteAccount(AccountId id, std::shared_ptr<StoreShared> shared, Db write_db, Db read_db)
      : id_(id), shared_(std::move(shared)), write_db_(std::move(write_db)), read_db_(std::move(read_db)) {}

  // Blocking: opens (creating) accounts/<id>/index.db.
  static Result<std::shared_ptr<SqliteAccount>> open_blocking(std::shared_ptr<StoreShared> shared, AccountId id) {
    const fs::path dir = shared->data_dir / "accounts" / std::to_string(id);
    if (auto r = make_private_dir(dir); !r) return r.error();
    const fs::path file = dir / "index.db";
    auto write_db = Db::open(file, DbOptions{});
    if (!write_db) return write_db.error();
    if (auto r = index::init(*write_db, now_seconds()); !r) return r.error();
    auto read_db = Db::open(file, DbOptions{});
    if (!read_db) return read_db.error();
    shared->indexes_opened.fetch_add(1);
    return std::make_shared<SqliteAccount>(id, std::move(shared), std::move(*write_db), std::move(*read_db));
  }

  AccountId id() const override { return id_; }
  StoreShared& shared() { return *shared_; }

  void set_limits(const Limits& limits) {
    std::lock_guard lock(limits_mu_);
    limits_ = limits;
  }
  Limits limits() {
    std::lock_guard lock(limits_mu_);
    return limits_;
  }
  void mark_deleted() { deleted_ = true; }

  // Runs fn(Db&) -> Result<T> on the pool with the read connection, in one read transaction.
  template <class T, class Fn>
  Task<T> read(Fn fn) {
    auto self = shared_from_this();
    auto result_task = run_blocking(shared_->pool, [self, fn = std::move(fn)]() mutable -> Result<T> {
      if (self->deleted_) return account_gone();
      std::lock_guard lock(self->read_mu_);
      auto tx = Transaction::begin(self->read_db_, Transaction::Kind::kDeferred);
      if (!tx) return tx.error();
      return fn(self->read_db_);  // the transaction only reads: its destructor ends it
    });
    auto result = co_await std::move(result_task);
    co_return result;
  }

  // Queues fn(Db&, events) -> Result<T> for the group transaction; finish() waits for it.
  template <class T, class Fn>
  Pending<T> submit(const boost::asio::any_io_executor& ex, Fn fn) {
    Pending<T> pending{std::make_shared<WriteTicket>(ex), std::make_shared<std::optional<Result<T>>>()};
    auto self = shared_from_this();
    pending.ticket->apply = [self, fn = std::move(fn), out = pending.out](Db& db, std::vector<ChangeEvent>& events) mutable {
      if (self->deleted_) {
        *out = Result<T>(account_gone());
      } else {
        *out = fn(db, events);
      }
      return bool(**out);
    };
    bool start = false;
    {
      std::lock_guard lock(queue_mu_);
      queue_.push_back(pending.ticket);
      if (!writer_active_) writer_active_ = start = true;
    }
    if (start) boost::asio::post(shared_->pool.pool(), [self] { self->drain(); });
    return pending;
  }

  template <class T, class Fn>
  Task<T> write(Fn fn) {
    auto ex = co_await boost::asio::this_coro::executor;
    auto pending = submit<T>(ex, std::move(fn));
    auto result_task = finish(std::move(pending));
    auto result = co_await std::move(result_task);
    co_return result;
  }

  Task<std::vector<MailboxInfo>> list_mailboxes() override {
    return read<std::vector<MailboxInfo>>([](Db& db) { return index::list_mailboxes(db); });
  }

  Task<MailboxInfo> find_mailbox(std::string name) override {
    auto canonical = canonical_mailbox_name(name);
    if (!canonical) co_return canonical.error();
    auto r_task = read<MailboxInfo>([n = std::move(*canonical)](Db& db) { return index::find_mailbox(db, n); });
    auto r = co_await std::move(r_task);
    co_return r;
  }

  Task<MailboxInfo> create_mailbox(std::string name, SpecialUse use) override {
    auto canonical = canonical_mailbox_name(name);
    if (!canonical) co_return canonical.error();
    const AccountId account = id_;
    auto r_task = write<MailboxInfo>(
        [n = std::move(*canonical), use, account](Db& db, std::vector<ChangeEvent>& events) -> Result<MailboxInfo> {
          auto info = index::create_mailbox(db, n, use, now_seconds());
          if (info) events.push_back(ChangeEvent{account, 0, ChangeEvent::Kind::kMailboxes, 0});
          return info;
        });
    auto r = co_await std::move(r_task);
    co_return r;
  }

  Task<void> rename_mailbox(std::string from, std::string to) override {
    auto f = canonical_mailbox_name(from);
    if (!f) co_return f.error();
    auto t = canonical_mailbox_name(to);
    if (!t) co_return t.error();
    const AccountId account = id_;
    auto r_task = write<void>(
        [f = std::move(*f), t = std::move(*t), account](Db& db, std::vector<ChangeEvent>& events) -> Result<void> {
          auto changed = index::rename_mailbox(db, f, t, now_seconds());
          if (!changed) return changed.error();
          events.push_back(ChangeEvent{account, 0, ChangeEvent::Kind::kMailboxes, 0});
          if (f == "INBOX" && !changed->empty()) {  // INBOX lost its messages
            auto inbox = index::mailbox_by_id(db, changed->front());
            if (!inbox) return inbox.error();
            events.push_back(ChangeEvent{account, inbox->id, ChangeEvent::Kind::kExpunged, inbox->highest_modseq});
          }
          return {};
        });
    auto r = co_await std::move(r_task);
    co_return r;
  }

  Task<void> delete_mailbox(std::string name) override {
    auto canonical = canonical_mailbox_name(name);
    if (!canonical) co_return canonical.error();
    const AccountId account = id_;
    auto r_task = write<void>(
        [n = std::move(*canonical), account](Db& db, std::vector<ChangeEvent>& events) -> Result<void> {
          auto id = index::delete_mailbox(db, n);
          if (!id) return id.error();
          events.push_back(ChangeEvent{account, 0, ChangeEvent::Kind::kMailboxes, 0});
          return {};
        });
    auto r = co_await std::move(r_task);
    co_return r;
  }

  Task<void> set_subscribed(std::string name, bool subscribed) override {
    auto canonical = canonical_mailbox_name(name);
    if (!canonical) co_return canonical.error();
    auto r_task = write<void>([n = std::move(*canonical), subscribed](Db& db, std::vector<ChangeEvent>&) {
      return index::set_subscribed(db, n, subscribed);
    });
    auto r = co_await std::move(r_task);
    co_return r;
  }

  Task<std::vector<std::string>> list_subscriptions() override {
    return read<std::vector<std::string>>([](Db& db) { return index::list_subscriptions(db); });
  }

  Task<std::unique_ptr<Mailbox>> open(std::string name) override;
  Task<std::unique_ptr<Mailbox>> open_id(MailboxId id) override;

  Task<void> set_pop3_policy(std::string policy) override {
    auto r_task = write<void>([policy = std::move(policy)](Db& db, std::vector<ChangeEvent>&) {
      return index::set_pop3_policy(db, policy);
    });
    auto r = co_await std::move(r_task);
    co_return r;
  }

  Task<QuotaUsage> quota() override {
    auto usage_task = read<QuotaUsage>([](Db& db) { return index::usage(db); });
    auto usage = co_await std::move(usage_task);
    if (usage) usage->limits = limits();
    co_return usage;
  }

  // ---- Moving an installation (posthorn migrate) ----
  Task<MailboxInfo> restore_mailbox(MailboxInfo info) override {
    auto canonical = canonical_mailbox_name(info.name);
    if (!canonical) co_return canonical.error();
    info.name = std::move(*canonical);
    const AccountId account = id_;
    auto r_task = write<MailboxInfo>([info = std::move(info), account](Db& db, std::vector<ChangeEvent>& events) {
      auto restored = index::restore_mailbox(db, info, now_seconds());
      if (restored) events.push_back(ChangeEvent{account, 0, ChangeEvent::Kind::kMailboxes, 0});
      return restored;
    });
    auto r = co_await std::move(r_task);
    co_return r;
  }

 private:
  void drain() {
    for (;;) {
      std::vector<std::shared_ptr<WriteTicket>> batch;
      {
        std::lock_guard lock(queue_mu_);
        if (queue_.empty()) {
          writer_active_ = false;
          return;
        }
        batch.swap(queue_);
      }
      run_batch(batch);
    }
  }

  void run_batch(const std::vector<std::shared_ptr<WriteTicket>>& batch) {
    std::vector<ChangeEvent> events;
    std::optional<Error> failure;
    {
      auto tx = Transaction::begin(write_db_);
      if (!tx) failure = tx.error();
      for (std::size_t i = 0; !failure && i < batch.size(); ++i) {
        if (auto r = write_db_.exec("SAVEPOINT request"); !r) {
          failure = r.error();
          break;
        }
        std::vector<ChangeEvent> mine;
        bool ok = false;
        try {
          ok = batch[i]->apply(write_db_, mine);
        } catch (const std::exception& e) {  // a bug in one request must not strand the others
          spdlog::error("mail store: write request failed: {}", e.what());
          batch[i]->commit_error = make_error(Errc::kInternal, "internal error");
        }
        auto end = ok ? write_db_.exec("RELEASE request")
                      : write_db_.exec("ROLLBACK TO request; RELEASE request");
        if (!end) {
          failure = end.error();
        } else if (ok) {
          events.insert(events.end(), mine.begin(), mine.end());
        }
      }
      if (!failure) {
        if (auto r = tx->commit(); !r) {
          failure = r.error();
        } else {
          shared_->transactions.fetch_add(1);
        }
      }
    }
    if (!failure) {
      for (const auto& e : events) {
        // Messages or mailboxes went: their blobs may be garbage now (collect_garbage).
        if (e.kind == ChangeEvent::Kind::kExpunged || e.kind == ChangeEvent::Kind::kMailboxes) shared_->garbage = true;
        shared_->feed.publish(e);
      }
    }
    for (const auto& t : batch) {
      if (failure) t->commit_error = *failure;
      t->signal.try_send(boost::system::error_code());
    }
  }

  const AccountId id_;
  std::shared_ptr<StoreShared> shared_;
  std::atomic<bool> deleted_{false};

  std::mutex limits_mu_;
  Limits limits_;  // guarded by limits_mu_

  Db write_db_;  // only the active writer (writer_active_) uses it

  std::mutex read_mu_;
  Db read_db_;  // guarded by read_mu_

  std::mutex queue_mu_;
  std::vector<std::shared_ptr<WriteTicket>> queue_;  // guarded by queue_mu_
  bool writer_active_ = false;                       // guarded by queue_mu_
};

// ---- SqliteMessageBlob ----

namespace {

class SqliteMessageBlob final : public MessageBlob {
 public:
  SqliteMessageBlob(std::string prefix, std::unique_ptr<BlobReader> reader, BlockingPool& pool)
      : prefix_(std::move(prefix)), reader_(std::move(reader)), pool_(pool) {}

  uint64_t size() const override { return prefix_.size() + reader_->size(); }

  Result<std::string> read_blocking(uint64_t offset, std::size_t length) override {
    std::string out;
    if (offset < prefix_.size()) {
      const std::size_t take = std::size_t(std::min<uint64_t>(length, prefix_.size() - offset));
      out.append(prefix_, std::size_t(offset), take);
      offset += take;
      length -= take;
    }
    if (length == 0) return out;
    auto rest = reader_->read(offset - prefix_.size(), length);
    if (!rest) return rest.error();
    out += *rest;
    return out;
  }

  Task<std::string> read(uint64_t offset, std::size_t length) override {
    auto r_task = run_blocking(pool_, [this, offset, length] { return read_blocking(offset, length); });
    auto r = co_await std::move(r_task);
    co_return r;
  }

 private:
  std::string prefix_;
  std::unique_ptr<BlobReader> reader_;
  BlockingPool& pool_;
};

// ---- SqliteMailbox ----

class SqliteMailbox final : public Mailbox {
 public:
  SqliteMailbox(std::shared_ptr<SqliteAccount> account, MailboxId id) : account_(std::move(account)), id_(id) {}
  MailboxId id() const override { return id_; }

  Task<MailboxView> select(bool read_write) override {
    const MailboxId box = id_;
    if (read_write) {
      auto r_task = account_->write<MailboxView>(
          [box](Db& db, std::vector<ChangeEvent>&) { return index::select(db, box, true); });
      auto r = co_await std::move(r_task);
      co_return r;
    }
    auto r_task = account_->read<MailboxView>([box](Db& db) { return index::select(db, box, false); });
    auto r = co_await std::move(r_task);
    co_return r;
  }

  Task<MailboxStatus> status() override {
    const MailboxId box = id_;
    return account_->read<MailboxStatus>([box](Db& db) { return index::status(db, box); });
  }

  Task<std::vector<MessageData>> fetch(std::vector<Uid> uids, bool with_summary) override {
    const MailboxId box = id_;
    return account_->read<std::vector<MessageData>>(
        [box, uids = std::move(uids), with_summary](Db& db) { return index::fetch(db, box, uids, with_summary); });
  }

  Task<std::vector<MessageData>> summaries(std::vector<Uid> uids) override {
    const MailboxId box = id_;
    return account_->read<std::vector<MessageData>>(
        [box, uids = std::move(uids)](Db& db) { return index::summaries(db, box, uids); });
  }

  Task<std::unique_ptr<MessageBlob>> open_message(Uid uid) override {
    const MailboxId box = id_;
    StoreShared* shared = &account_->shared();
    return account_->read<std::unique_ptr<MessageBlob>>(
        [box, uid, shared](Db& db) -> Result<std::unique_ptr<MessageBlob>> {
          auto where = index::locate(db, box, uid);
          if (!where) return where.error();
          auto reader = shared->blobs->open_blob(where->blob_id);
          if (!reader) return reader.error();
          return std::unique_ptr<MessageBlob>(
              std::make_unique<SqliteMessageBlob>(std::move(where->prefix), std::move(*reader), shared->pool));
        });
  }

  Task<std::vector<AppendResult>> append_many(std::vector<AppendMessage> messages) override {
    std::vector<Flags> flags;
    for (auto& m : messages) {
      auto f = checked_flags(std::move(m.flags));
      if (!f) co_return f.error();
      flags.push_back(std::move(*f));
    }
    StoreShared* shared = &account_->shared();
    auto prepared_task = run_blocking(
        shared->pool,
        [shared, messages = std::move(messages), flags = std::move(flags)]() mutable -> Result<Prepared> {
          Prepared out;
          const int64_t now = now_seconds();
          for (std::size_t i = 0; i < messages.size(); ++i) {
            if (auto r = prepare(*shared->blobs, messages[i], std::move(flags[i]), now, out); !r) return r.error();
          }
          return out;
        });
    auto prepared = co_await std::move(prepared_task);
    if (!prepared) co_return prepared.error();
    // The blobs stay pinned until this coroutine ends, after the commit (or its failure).
    const std::vector<BlobPin> pins = std::move(prepared->pins);
    const MailboxId box = id_;
    const AccountId account = account_->id();
    const Limits limits = account_->limits();
    auto r_task = account_->write<std::vector<AppendResult>>(
        [box, account, limits, prepared = std::move(prepared->messages)](Db& db, std::vector<ChangeEvent>& events)
            -> Result<std::vector<AppendResult>> {
          auto appended = index::append(db, box, prepared, limits, now_seconds());
          if (appended && !appended->empty()) {
            events.push_back(ChangeEvent{account, box, ChangeEvent::Kind::kAppended, appended->back().modseq});
          }
          return appended;
        });
    auto r = co_await std::move(r_task);
    co_return r;
  }

  Task<StoreResult> store_flags(StoreFlags request) override {
    auto flags = checked_flags(std::move(request.flags));
    if (!flags) co_return flags.error();
    request.flags = std::move(*flags);
    const MailboxId box = id_;
    const AccountId account = account_->id();
    auto r_task = account_->write<StoreResult>(
        [box, account, request = std::move(request)](Db& db, std::vector<ChangeEvent>& events) -> Result<StoreResult> {
          auto stored = index::store_flags(db, box, request);
          if (stored && !stored->changed.empty()) {
            events.push_back(ChangeEvent{account, box, ChangeEvent::Kind::kFlags, stored->highest_modseq});
          }
          return stored;
        });
    auto r = co_await std::move(r_task);
    co_return r;
  }

  Task<CopyResult> copy(std::vector<Uid> uids, MailboxId dest) override { return copy_or_move(std::move(uids), dest, false); }
  Task<CopyResult> move(std::vector<Uid> uids, MailboxId dest) override { return copy_or_move(std::move(uids), dest, true); }

  Task<ExpungeResult> expunge(std::optional<std::vector<Uid>> uids) override {
    const MailboxId box = id_;
    const AccountId account = account_->id();
    auto r_task = account_->write<ExpungeResult>(
        [box, account, uids = std::move(uids)](Db& db, std::vector<ChangeEvent>& events) -> Result<ExpungeResult> {
          auto done = index::expunge(db, box, uids);
          if (done && !done->expunged.empty()) {
            events.push_back(ChangeEvent{account, box, ChangeEvent::Kind::kExpunged, done->highest_modseq});
          }
          return done;
        });
    auto r = co_await std::move(r_task);
    co_return r;
  }

  Task<Changes> changes_since(ModSeq since, bool claim_recent) override {
    const MailboxId box = id_;
    auto mark = std::make_shared<Uid>(0);
    auto read_task = account_->read<Changes>(
        [box, since, mark](Db& db) { return index::changes_since(db, box, since, mark.get()); });
    auto changes = co_await std::move(read_task);
    if (!changes || !claim_recent) co_return changes;
    // Only a read unless something new is unclaimed: the claim is a (small) write transaction.
    const Uid below = changes->uid_next;
    const bool unclaimed = std::any_of(changes->changed.begin(), changes->changed.end(),
                                       [&](const MessageInfo& m) { return m.uid >= *mark; });
    if (!unclaimed || *mark >= below) co_return changes;
    auto claim_task = account_->write<std::optional<UidRange>>(
        [box, below](Db& db, std::vector<ChangeEvent>&) { return index::claim_recent(db, box, below); });
    auto claimed = co_await std::move(claim_task);
    if (!claimed) co_return claimed.error();
    changes->claimed_recent = *claimed;
    co_return changes;
  }

  Task<MaildropView> maildrop() override {
    const MailboxId box = id_;
    auto view_task = account_->read<MaildropView>([box](Db& db) { return index::maildrop(db, box); });
    auto view = co_await std::move(view_task);
    if (!view) co_return view;
    bool complete = true;
    for (const auto& m : view->messages) complete = complete && !m.content_hash.empty();
    if (complete) co_return view;
    auto filled_task = fill_content_hashes(std::move(*view));
    auto filled = co_await std::move(filled_task);
    co_return filled;
  }

  Task<MaildropResult> commit_maildrop(MaildropUpdate update) override {
    const MailboxId box = id_;
    const AccountId account = account_->id();
    auto r_task = account_->write<MaildropResult>(
        [box, account, update = std::move(update)](Db& db, std::vector<ChangeEvent>& events) -> Result<MaildropResult> {
          auto done = index::commit_maildrop(db, box, update);
          if (!done) return done.error();
          if (!done->result.seen.empty()) {
            events.push_back(ChangeEvent{account, box, ChangeEvent::Kind::kFlags, done->highest_modseq});
          }
          if (!done->result.removed.empty()) {
            events.push_back(ChangeEvent{account, box, ChangeEvent::Kind::kExpunged, done->highest_modseq});
          }
          return std::move(done->result);
        });
    auto r = co_await std::move(r_task);
    co_return r;
  }

  // ---- Moving an installation (posthorn migrate) ----
  Task<std::vector<MessageInfo>> image_page(Uid after, std::size_t limit) override {
    const MailboxId box = id_;
    return account_->read<std::vector<MessageInfo>>(
        [box, after, limit](Db& db) { return index::image_page(db, box, after, limit); });
  }

  Task<void> restore_messages(std::vector<RestoredMessage> messages) override {
    for (auto& m : messages) {
      auto f = checked_flags(std::move(m.info.flags));
      if (!f) co_return f.error();
      m.info.flags = std::move(*f);
    }
    StoreShared* shared = &account_->shared();
    auto messages_ptr = std::make_shared<std::vector<RestoredMessage>>(std::move(messages));
    struct Restored {
      std::vector<index::RestoredRow> rows;
      std::vector<BlobPin> pins;
    };
    auto prepared_task = run_blocking(shared->pool, [shared, messages_ptr]() -> Result<Restored> {
      Prepared out;
      const int64_t now = now_seconds();
      for (auto& m : *messages_ptr) {
        AppendMessage exact = restored_append(m);
        if (auto r = prepare(*shared->blobs, exact, m.info.flags, now, out); !r) return r.error();
        m.spool.reset();  // the bytes are in the blob now
      }
      Restored restored;
      for (std::size_t i = 0; i < out.messages.size(); ++i) {
        index::RestoredRow row;
        static_cast<index::NewMessage&>(row) = std::move(out.messages[i]);
        row.uid = (*messages_ptr)[i].info.uid;
        row.modseq = (*messages_ptr)[i].info.modseq;
        row.save_date = (*messages_ptr)[i].info.save_date;
        restored.rows.push_back(std::move(row));
      }
      restored.pins = std::move(out.pins);
      return restored;
    });
    auto prepared = co_await std::move(prepared_task);
    if (!prepared) co_return prepared.error();
    const std::vector<BlobPin> pins = std::move(prepared->pins);  // until the commit
    const MailboxId box = id_;
    const AccountId account = account_->id();
    auto r_task = account_->write<void>(
        [box, account, messages_ptr, rows = std::move(prepared->rows)](Db& db, std::vector<ChangeEvent>& events)
            -> Result<void> {
          auto highest = index::restore_messages(db, box, *messages_ptr, rows);
          if (!highest) return highest.error();
          if (!rows.empty()) events.push_back(ChangeEvent{account, box, ChangeEvent::Kind::kAppended, *highest});
          return {};
        });
    auto r = co_await std::move(r_task);
    co_return r;
  }

 private:
  // Messages stored by schema version 1 have no content hash: read their bytes once, hash them and
  // keep the hashes (one read of each old message, the first time POP3 lists it).
  Task<MaildropView> fill_content_hashes(MaildropView view) {
    const MailboxId box = id_;
    StoreShared* shared = &account_->shared();
    auto hashed_task = account_->read<MaildropView>([box, shared, view = std::move(view)](Db& db) mutable
                                                        -> Result<MaildropView> {
      constexpr std::size_t kChunk = 1 << 20;
      for (auto& m : view.messages) {
        if (!m.content_hash.empty()) continue;
        auto where = index::locate(db, box, m.uid);
        if (!where) return where.error();
        auto reader = shared->blobs->open_blob(where->blob_id);
        if (!reader) return reader.error();
        Sha256 hash;
        hash.update(where->prefix);
        for (uint64_t offset = 0; offset < (*reader)->size(); offset += kChunk) {
          auto chunk = (*reader)->read(offset, kChunk);
          if (!chunk) return chunk.error();
          hash.update(*chunk);
        }
        m.content_hash = hash.hex();
      }
      return view;
    });
    auto hashed = co_await std::move(hashed_task);
    if (!hashed) co_return hashed;
    std::vector<std::pair<Uid, std::string>> hashes;
    for (const auto& m : hashed->messages) hashes.emplace_back(m.uid, m.content_hash);
    auto stored_task = account_->write<void>([box, hashes = std::move(hashes)](Db& db, std::vector<ChangeEvent>&) {
      for (const auto& [uid, hash] : hashes) {
        if (auto r = index::set_content_hash(db, box, uid, hash); !r) return r;
      }
      return Result<void>();
    });
    auto stored = co_await std::move(stored_task);
    if (!stored) spdlog::warn("mail store: keeping content hashes failed: {}", stored.error().message);
    co_return hashed;
  }

  Task<CopyResult> copy_or_move(std::vector<Uid> uids, MailboxId dest, bool move) {
    const MailboxId box = id_;
    const AccountId account = account_->id();
    const Limits limits = account_->limits();
    auto r_task = account_->write<CopyResult>(
        [box, account, limits, dest, move, uids = std::move(uids)](Db& db, std::vector<ChangeEvent>& events)
            -> Result<CopyResult> {
          auto copied = index::copy(db, box, uids, dest, limits, move, now_seconds());
          if (!copied || copied->source.empty()) return copied;
          auto to = index::mailbox_by_id(db, dest);
          if (!to) return to.error();
          events.push_back(ChangeEvent{account, dest, ChangeEvent::Kind::kAppended, to->highest_modseq});
          if (move) {
            auto from = index::mailbox_by_id(db, box);
            if (!from) return from.error();
            events.push_back(ChangeEvent{account, box, ChangeEvent::Kind::kExpunged, from->highest_modseq});
          }
          return copied;
        });
    auto r = co_await std::move(r_task);
    co_return r;
  }

  std::shared_ptr<SqliteAccount> account_;
  const MailboxId id_;
};

}  // namespace

Task<std::unique_ptr<Mailbox>> SqliteAccount::open(std::string name) {
  auto canonical = canonical_mailbox_name(name);
  if (!canonical) co_return canonical.error();
  auto info_task = read<MailboxInfo>([n = std::move(*canonical)](Db& db) { return index::find_mailbox(db, n); });
  auto info = co_await std::move(info_task);
  if (!info) co_return info.error();
  co_return std::unique_ptr<Mailbox>(std::make_unique<SqliteMailbox>(shared_from_this(), info->id));
}

Task<std::unique_ptr<Mailbox>> SqliteAccount::open_id(MailboxId id) {
  auto info_task = read<MailboxInfo>([id](Db& db) { return index::mailbox_by_id(db, id); });
  auto info = co_await std::move(info_task);
  if (!info) co_return info.error();
  co_return std::unique_ptr<Mailbox>(std::make_unique<SqliteMailbox>(shared_from_this(), info->id));
}

// ---- SqliteMailStore ----

Result<std::unique_ptr<SqliteMailStore>> SqliteMailStore::open(const fs::path& data_dir, BlockingPool& pool) {
  auto shared = std::make_shared<StoreShared>(data_dir, pool);
  auto blobs = BlobStore::open(data_dir);  // creates data_dir too
  if (!blobs) return blobs.error();
  shared->blobs = std::move(*blobs);
  if (auto r = make_private_dir(data_dir / "accounts"); !r) return r.error();
  const fs::path lock_file = data_dir / "store.lock";
  int fd = ::open(lock_file.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0 || ::flock(fd, LOCK_SH) != 0) {
    spdlog::error("mail store: cannot lock {}: {}", lock_file.string(), std::strerror(errno));
    if (fd >= 0) ::close(fd);
    return make_error(Errc::kUnavailable, "cannot lock the mail store");
  }
  return std::unique_ptr<SqliteMailStore>(new SqliteMailStore(std::move(shared), fd));
}

SqliteMailStore::~SqliteMailStore() {
  warm_.clear();  // close the kept indexes while the store lock is still held
  if (lock_fd_ >= 0) ::close(lock_fd_);  // releases the flock
}

// Puts `account` first among the kept accounts; returns the one that dropped out, if any, for the
// caller to release() after unlocking. Caller holds mu_.
std::shared_ptr<SqliteAccount> SqliteMailStore::keep_warm(std::shared_ptr<SqliteAccount> account) {
  if (!warm_.empty() && warm_.front() == account) return nullptr;
  std::erase(warm_, account);
  warm_.push_front(std::move(account));
  if (warm_.size() <= kWarmAccounts) return nullptr;
  std::shared_ptr<SqliteAccount> evicted = std::move(warm_.back());
  warm_.pop_back();
  return evicted;
}

// Closes an account that dropped out of the kept ones on the blocking pool, if no session holds it:
// closing an index may checkpoint it, which is no work for an I/O thread.
void SqliteMailStore::release(std::shared_ptr<SqliteAccount> evicted) {
  if (evicted) boost::asio::post(shared_->pool.pool(), [evicted = std::move(evicted)] {});
}

// The open account `id`, or null; marks it used last. Locks mu_.
std::shared_ptr<SqliteAccount> SqliteMailStore::live_account(AccountId id, const Limits& limits) {
  std::shared_ptr<SqliteAccount> account;
  std::shared_ptr<SqliteAccount> evicted;
  {
    std::lock_guard lock(mu_);
    auto it = accounts_.find(id);
    if (it == accounts_.end()) return nullptr;
    account = it->second.lock();
    if (!account) {
      accounts_.erase(it);
      return nullptr;
    }
    account->set_limits(limits);
    evicted = keep_warm(account);
  }
  release(std::move(evicted));
  return account;
}

Task<std::shared_ptr<SqliteAccount>> SqliteMailStore::account_impl(AccountId id, Limits limits) {
  if (id <= 0) co_return account_gone();
  if (auto cached = live_account(id, limits)) co_return cached;
  auto opened_task = run_blocking(shared_->pool, [this, id, limits]() -> Result<std::shared_ptr<SqliteAccount>> {
    // A burst of logins of one account (a client opening several connections at once) opens its
    // index once: the others wait for the stripe and find it open.
    std::lock_guard open_lock(open_mu_[static_cast<std::size_t>(id) % open_mu_.size()]);
    if (auto cached = live_account(id, limits)) return cached;
    auto opened = SqliteAccount::open_blocking(shared_, id);
    if (!opened) return opened.error();
    (*opened)->set_limits(limits);
    std::shared_ptr<SqliteAccount> evicted;
    {
      std::lock_guard lock(mu_);
      accounts_[id] = *opened;
      evicted = keep_warm(*opened);
    }
    release(std::move(evicted));
    return opened;
  });
  auto opened = co_await std::move(opened_task);
  co_return opened;
}

Task<std::shared_ptr<Account>> SqliteMailStore::account(AccountId id, Limits limits) {
  auto r_task = account_impl(id, limits);
  auto r = co_await std::move(r_task);
  if (!r) co_return r.error();
  co_return std::shared_ptr<Account>(std::move(*r));
}

Task<std::vector<Result<AppendResult>>> SqliteMailStore::deliver(Delivery delivery) {
  // One blob for every target; each target's summary covers its own prefix.
  StoreShared* shared = shared_.get();
  std::vector<std::pair<std::string, Flags>> per_target;
  std::vector<Result<AppendResult>> results;
  for (auto& t : delivery.targets) {
    auto flags = checked_flags(t.flags);
    results.push_back(flags ? Result<AppendResult>(AppendResult{}) : Result<AppendResult>(flags.error()));
    per_target.emplace_back(t.prefix, flags ? std::move(*flags) : Flags{});
  }
  auto prepared_task = run_blocking(
      shared->pool,
      [shared, message = std::move(delivery.message),
       per_target = std::move(per_target)]() mutable -> Result<Prepared> {
        static const std::string kEmpty;
        // Normalised once: a copy only when a lone LF must become CRLF (the delivery layer already
        // normalised what SMTP received).
        std::string normalized;
        const std::string& raw = message ? *message : kEmpty;
        const bool rewrite = has_bare_lf(raw);
        if (rewrite) normalized = normalize_crlf(raw);
        const std::string& bytes = rewrite ? normalized : raw;
        auto pin = shared->blobs->put_pinned(bytes);
        if (!pin) return pin.error();
        Prepared out;
        const int64_t now = now_seconds();
        // Parsed once for every target, unless a prefix would not simply join the header.
        std::optional<mime::MessageSummary> parsed;
        if (mime::joins_header(bytes)) parsed = mime::summarize(bytes);
        for (auto& [prefix, flags] : per_target) {
          out.messages.push_back(describe(pin->id(), bytes, std::move(prefix), std::move(flags), std::nullopt, now,
                                          parsed ? &*parsed : nullptr));
        }
        out.pins.push_back(std::move(*pin));
        return out;
      });
  auto prepared_result = co_await std::move(prepared_task);
  if (!prepared_result) {
    for (auto& r : results) r = prepared_result.error();
    co_return results;
  }
  // Pinned until every target's commit has finished (this coroutine's end).
  const std::vector<BlobPin> pins = std::move(prepared_result->pins);
  std::vector<index::NewMessage>* prepared = &prepared_result->messages;

  // Queue every target's index change first, then wait: different accounts commit in parallel.
  auto ex = co_await boost::asio::this_coro::executor;
  std::vector<std::optional<Pending<AppendResult>>> pending(delivery.targets.size());
  for (std::size_t i = 0; i < delivery.targets.size(); ++i) {
    if (!results[i]) continue;
    const DeliveryTarget& target = delivery.targets[i];
    auto account_task = account_impl(target.account, target.limits);
    auto account = co_await std::move(account_task);
    if (!account) {
      results[i] = account.error();
      continue;
    }
    const AccountId account_id = target.account;
    pending[i] = (*account)->submit<AppendResult>(
        ex, [account_id, limits = target.limits, mailbox = target.mailbox, message = std::move((*prepared)[i])](
                Db& db, std::vector<ChangeEvent>& events) -> Result<AppendResult> {
          auto canonical = canonical_mailbox_name(mailbox);
          Result<MailboxInfo> box = canonical ? index::find_mailbox(db, *canonical) : Result<MailboxInfo>(canonical.error());
          if (!box) box = index::find_mailbox(db, "INBOX");
          if (!box) return box.error();
          auto appended = index::append(db, box->id, {message}, limits, now_seconds());
          if (!appended) return appended.error();
          events.push_back(ChangeEvent{account_id, box->id, ChangeEvent::Kind::kAppended, appended->front().modseq});
          return appended->front();
        });
  }
  for (std::size_t i = 0; i < pending.size(); ++i) {
    if (!pending[i]) continue;
    auto r_task = finish(std::move(*pending[i]));
    auto r = co_await std::move(r_task);
    results[i] = std::move(r);
  }
  co_return results;
}

Task<void> SqliteMailStore::delete_account(AccountId id) {
  if (id <= 0) co_return account_gone();
  {
    std::lock_guard lock(mu_);
    auto it = accounts_.find(id);
    if (it != accounts_.end()) {
      if (auto alive = it->second.lock()) {
        alive->mark_deleted();
        std::erase(warm_, alive);
      }
      accounts_.erase(it);
    }
  }
  const fs::path dir = shared_->data_dir / "accounts" / std::to_string(id);
  StoreShared* shared = shared_.get();
  auto r_task = run_blocking(shared_->pool, [dir, shared]() -> Result<void> {
    std::lock_guard lock(shared->accounts_dir_mu);
    shared->garbage = true;
    std::error_code ec;
    fs::remove_all(dir, ec);
    if (ec) {
      spdlog::error("mail store: remove {}: {}", dir.string(), ec.message());
      return make_error(Errc::kUnavailable, "could not remove the account's mail");
    }
    return {};
  });
  auto r = co_await std::move(r_task);
  co_return r;
}

Task<SqliteMailStore::GcStats> SqliteMailStore::collect_garbage_async(GcMode mode) {
  return run_blocking(shared_->pool, [this, mode] { return collect_garbage(mode); });
}

Result<SqliteMailStore::GcStats> SqliteMailStore::collect_garbage(GcMode mode) {
  std::lock_guard gc_lock(gc_mu_);
  // Converting our shared lock to an exclusive one succeeds only when no other process holds it.
  if (::flock(lock_fd_, LOCK_EX | LOCK_NB) != 0) {
    ::flock(lock_fd_, LOCK_SH);  // a failed conversion may have dropped the shared lock
    spdlog::info("mail store gc: skipped, another process has the store open");
    GcStats skipped;
    skipped.skipped = true;
    return skipped;
  }
  struct Relock {  // back to shared on every path out
    int fd;
    ~Relock() { ::flock(fd, LOCK_SH); }
  } relock{lock_fd_};
  BlobStore& blobs = *shared_->blobs;
  // From here on every unpinned blob is remembered: its index entry may be newer than our read.
  blobs.begin_collection();
  struct EndCollection {
    BlobStore& blobs;
    ~EndCollection() { blobs.end_collection(); }
  } end_collection{blobs};
  std::set<std::string> referenced;
  {
    std::lock_guard dir_lock(shared_->accounts_dir_mu);
    std::error_code ec;
    for (fs::directory_iterator it(shared_->data_dir / "accounts", ec), end; !ec && it != end; it.increment(ec)) {
      const fs::path file = it->path() / "index.db";
      if (!fs::exists(file)) continue;
      auto db = Db::open(file, DbOptions{});
      if (!db) return db.error();
      auto ids = index::referenced_blobs(*db);
      if (!ids) return ids.error();
      referenced.insert(ids->begin(), ids->end());
    }
    if (ec) {
      spdlog::error("mail store gc: list accounts: {}", ec.message());
      return make_error(Errc::kUnavailable, "could not list accounts");
    }
  }
  GcStats stats;
  if (mode == GcMode::kStartup) {
    auto tmp = blobs.clear_tmp();
    if (!tmp) return tmp.error();
    stats.tmp_removed = *tmp;
  }
  auto ids = blobs.list();
  if (!ids) return ids.error();
  for (const auto& id : *ids) {
    if (referenced.count(id) != 0) {
      ++stats.blobs_kept;
      continue;
    }
    auto removed = blobs.remove_unpinned(id);
    if (!removed) return removed.error();
    if (!*removed) {
      ++stats.blobs_kept;  // being delivered or appended right now
      continue;
    }
    ++stats.blobs_removed;
    stats.bytes_freed += **removed;
  }
  Metrics::global().blob_gc(stats.blobs_removed, stats.bytes_freed);
  spdlog::info("mail store gc: removed {} blobs ({} bytes) and {} temp files, kept {}", stats.blobs_removed,
               stats.bytes_freed, stats.tmp_removed, stats.blobs_kept);
  return stats;
}

}  // namespace posthorn::store::sqlite
