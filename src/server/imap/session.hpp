// The IMAP session class (internal to server/imap): one connection's state machine. The core
// (imap_session.cpp) reads and assembles commands, runs the pre-login commands and dispatches every
// command through the command table (command_table.hpp: states, flags, handler) to one cmd_*.cpp
// file per command group:
//   cmd_mailbox.cpp  ENABLE, ID, NAMESPACE, CREATE, DELETE, RENAME, (UN)SUBSCRIBE, LIST, LSUB, STATUS
//   cmd_append.cpp   APPEND (MULTIAPPEND, literal8)
//   cmd_select.cpp   SELECT, EXAMINE, CLOSE, UNSELECT, EXPUNGE, UID EXPUNGE, CHECK, and sync()
//   cmd_fetch.cpp    FETCH, UID FETCH
//   cmd_store.cpp    STORE, COPY, MOVE (and UID forms)
//   cmd_idle.cpp     IDLE
//   cmd_search.cpp   SEARCH, SORT, THREAD (and UID forms), CANCELUPDATE, and the CONTEXT=SEARCH updates
//   cmd_quota.cpp    GETQUOTA, GETQUOTAROOT, SETQUOTA
//   cmd_compress.cpp COMPRESS
// (REPLACE, UID REPLACE live in cmd_append.cpp.)
// A handler writes untagged responses with out() and returns its tagged reply; the core then brings
// the selected mailbox up to date (sync) and sends the tagged reply, so every command ends at a point
// where other sessions' changes may be announced [RFC 9051 §7.5.1, §5.2].
//
// Thread-safety: the session runs on its connection's strand. The only state shared with other
// threads is FeedState (atomics, and a timer touched only from the strand via post).
#pragma once

#include <atomic>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "auth/authenticator.hpp"
#include "server/imap/command_table.hpp"
#include "proto/imap/assembler.hpp"
#include "proto/imap/command.hpp"
#include "server/imap/imap_session.hpp"
#include "proto/imap/search.hpp"
#include "server/imap/selected_view.hpp"
#include "store/store.hpp"

namespace posthorn::server::imap {

// Shared between the session and its ChangeFeed callback (which runs on the publisher's thread).
struct FeedState {
  explicit FeedState(boost::asio::any_io_executor ex) : executor(ex), timer(ex) {}
  std::atomic<bool> pending{false};        // a change in the selected mailbox is not reported yet
  std::atomic<store::MailboxId> mailbox{0};  // the selected mailbox (0: none)
  boost::asio::any_io_executor executor;   // the session's strand
  boost::asio::steady_timer timer;         // IDLE waits on it; cancelled (on the strand) per event
};

struct FetchPlan;     // cmd_fetch.cpp
struct FetchOutcome;  // cmd_fetch.cpp

class Session {
 public:
  Session(net::Connection& conn, ImapContext& ctx, boost::asio::any_io_executor executor);
  ~Session();
  boost::asio::awaitable<void> run();

 private:
  friend struct CommandHandlers;  // command_table.cpp: the adapters from a Command to the handlers

  struct Incoming {
    Flow flow = Flow::kClose;
    std::optional<proto::imap::AssembledCommand> command;
    MemoryLease memory;  // the share of the message memory budget its big literals hold
    // The literals kept elsewhere (command->external[i] is in spools[i]): big APPEND messages
    // spooled as they arrived (issue 28 item 2).
    std::vector<std::shared_ptr<Spool>> spools{};
    bool spool_failed = false;  // a spool could not be written (disk full): the command fails
  };

  // --- core (imap_session.cpp)
  const std::string& id() const;
  bool authenticated() const { return principal_.has_value(); }
  bool selected() const { return mailbox_ != nullptr; }
  SessionState state() const;
  std::chrono::seconds timeout() const;
  bool starttls_offered() const;
  std::string capabilities() const;
  boost::asio::awaitable<bool> send(std::string text);
  // Queues untagged output; writes when enough has gathered (FETCH streams through this).
  boost::asio::awaitable<void> out(std::string_view text);
  boost::asio::awaitable<void> flush();
  boost::asio::awaitable<Flow> read_failed(net::ReadStatus status);
  net::ReadOptions line_options(bool interruptible) const;
  boost::asio::awaitable<Incoming> read_command();
  // Reads the next `size` bytes of a literal as they arrive, handing each piece to `take`, within the
  // [timeouts] min_data_rate deadline (slowloris). False when the read failed (already handled).
  boost::asio::awaitable<bool> read_literal(uint64_t size, const std::function<void(std::string_view)>& take);
  boost::asio::awaitable<net::ReadResult> read_command_line(bool first, bool id_command);
  boost::asio::awaitable<Flow> skip_overlong_line(std::optional<std::string> tag);
  boost::asio::awaitable<Flow> next_command();
  boost::asio::awaitable<Flow> reply(std::string text);
  boost::asio::awaitable<Flow> dispatch(proto::imap::Command& cmd);
  // Runs a tagged command (entry: its table entry, nullptr for an unknown one) after the state checks.
  boost::asio::awaitable<std::string> dispatch_tagged(const CommandEntry* entry, proto::imap::Command& cmd);
  boost::asio::awaitable<Flow> starttls(const std::string& tag);
  std::string authenticated_reply(const std::string& tag, std::string_view text) const;
  boost::asio::awaitable<Flow> do_login(const std::string& tag, const proto::imap::Login& login);
  boost::asio::awaitable<std::optional<std::string>> read_sasl_line();
  boost::asio::awaitable<Flow> do_authenticate(const std::string& tag, const proto::imap::Authenticate& args);
  boost::asio::awaitable<void> on_authenticated();
  void on_unauthenticated();
  proto::imap::AssemblerOptions assembler_limits() const;
  bool utf8_names() const { return utf8_ || rev2_; }
  ViewOptions view_options() const;
  Result<std::string> mailbox_name(const std::string& wire) const;
  std::string wire_name(std::string_view name) const;
  uint64_t append_limit() const;
  // Records keywords as defined in the selected mailbox (ctx_.keywords), so later SELECTs of it
  // list them in FLAGS: `named` (what a STORE is about to set or clear), and whatever the view has
  // learned since the last call.
  void define_keywords(const std::vector<std::string>& named = {});

  // --- cmd_mailbox.cpp
  std::string cmd_enable(const std::string& tag, const proto::imap::Enable& args);
  boost::asio::awaitable<std::string> cmd_id(const std::string& tag, const proto::imap::Id& args);
  boost::asio::awaitable<std::string> cmd_namespace(const std::string& tag);
  boost::asio::awaitable<std::string> cmd_create(const std::string& tag, const proto::imap::Create& args);
  boost::asio::awaitable<std::string> cmd_delete(const std::string& tag, const proto::imap::Delete& args);
  boost::asio::awaitable<std::string> cmd_rename(const std::string& tag, const proto::imap::Rename& args);
  boost::asio::awaitable<std::string> cmd_subscribe(const std::string& tag, const proto::imap::Subscribe& args);
  boost::asio::awaitable<std::string> cmd_list(const std::string& tag, const proto::imap::List& args);
  boost::asio::awaitable<std::string> cmd_status(const std::string& tag, const proto::imap::StatusCmd& args);

  // --- cmd_append.cpp
  boost::asio::awaitable<std::string> cmd_append(const std::string& tag, proto::imap::Append& args);

  // --- cmd_select.cpp
  boost::asio::awaitable<std::string> cmd_select(const std::string& tag, const proto::imap::Select& args);
  boost::asio::awaitable<std::string> cmd_close(const std::string& tag, bool expunge);
  boost::asio::awaitable<std::string> cmd_expunge(const std::string& tag, const proto::imap::Expunge& args);
  void unselect();
  // Announces other sessions' changes to the selected mailbox (see SelectedView::apply).
  boost::asio::awaitable<void> sync(bool allow_expunge);
  // Announces the held-back expunges of other sessions, then `own` (this session's EXPUNGE, MOVE,
  // REPLACE), with the REMOVEFROM of the RETURN (UPDATE) results first (remove_from_updates).
  boost::asio::awaitable<void> announce_expunges(std::vector<store::Uid> own);
  // A CONDSTORE-enabling command [RFC 7162 §3.1]: turns CONDSTORE on; the first time, with a
  // mailbox selected, tells the client its HIGHESTMODSEQ (an untagged OK).
  boost::asio::awaitable<void> enable_condstore();

  // --- cmd_fetch.cpp (FetchPlan and FetchOutcome are defined there)
  boost::asio::awaitable<std::string> cmd_fetch(const std::string& tag, const proto::imap::Fetch& args);
  // FLAGS and UID of `uids` from the view alone (plan.view_only, the view up to date): no store call.
  boost::asio::awaitable<void> fetch_from_view(const proto::imap::Fetch& args, const FetchPlan& plan,
                                               std::vector<store::Uid> uids);
  // The UIDs of `expunged` that `set` names and the view no longer holds (VANISHED (EARLIER)).
  std::vector<uint32_t> vanished_in_set(const std::vector<store::Uid>& expunged,
                                        const proto::imap::SequenceSet& set) const;
  // One batch of UIDs: reads their index rows (and summaries), sets \Seen where the plan says, and
  // writes each message's FETCH response. Fails only when reading the rows does.
  boost::asio::awaitable<Result<FetchOutcome>> fetch_batch(const proto::imap::Fetch& args, const FetchPlan& plan,
                                                           std::vector<store::Uid> batch);
  // Sets \Seen on the messages of `batch` that lack it and puts their new flags and modseq into
  // `batch`; returns the UIDs whose flags changed (none when the store refused).
  boost::asio::awaitable<std::vector<store::Uid>> mark_seen(std::vector<store::MessageData>& batch);
  // The FETCH response of one message (none when it left the view, or is gone: outcome.missing).
  // seen_changed: mark_seen just set its \Seen, so FLAGS goes with it.
  boost::asio::awaitable<FetchOutcome> fetch_message(const proto::imap::Fetch& args, const FetchPlan& plan,
                                                     const store::MessageData& m, bool seen_changed);
  // Writes [offset, offset + size) of `blob` as literal data in chunks, NUL octets masked; pads
  // with spaces when the blob is shorter than its index entry.
  boost::asio::awaitable<void> stream_section(store::MessageBlob& blob, store::Uid uid, uint64_t offset,
                                              uint64_t size);

  // --- cmd_store.cpp
  boost::asio::awaitable<std::string> cmd_store(const std::string& tag, const proto::imap::Store& args);
  boost::asio::awaitable<std::string> cmd_copy(const std::string& tag, const proto::imap::Copy& args);

  // --- cmd_idle.cpp
  boost::asio::awaitable<Flow> cmd_idle(const std::string& tag);

  // --- cmd_search.cpp
  boost::asio::awaitable<std::string> cmd_search(const std::string& tag, const std::string& name,
                                                 const proto::imap::Search& args);
  std::string cmd_cancel_update(const std::string& tag, const proto::imap::CancelUpdate& args);
  // Sends ADDTO/REMOVEFROM for the RETURN (UPDATE) searches whose results changed [RFC 5267 §4.3].
  boost::asio::awaitable<void> refresh_updates();
  // Before the EXPUNGE/VANISHED of `gone` (UIDs still in the view): REMOVEFROM for the RETURN
  // (UPDATE) results that hold them, numbered as before the expunge [RFC 5267 §4.3].
  boost::asio::awaitable<void> remove_from_updates(std::vector<store::Uid> gone);
  // --- cmd_quota.cpp
  boost::asio::awaitable<Result<std::string>> quota_response();
  boost::asio::awaitable<std::string> cmd_getquota(const std::string& tag, const proto::imap::GetQuota& args);
  boost::asio::awaitable<std::string> cmd_getquotaroot(const std::string& tag, const proto::imap::GetQuotaRoot& args);
  std::string cmd_setquota(const std::string& tag);

  // --- cmd_compress.cpp
  boost::asio::awaitable<Flow> cmd_compress(const std::string& tag, const proto::imap::Compress& args);

  // --- cmd_append.cpp
  boost::asio::awaitable<std::string> cmd_replace(const std::string& tag, proto::imap::Replace& args);
  // Message memory for parsing the spooled messages of an APPEND once stored (the largest of them).
  boost::asio::awaitable<MemoryLease> reserve_for_spooled(const std::vector<store::AppendMessage>& messages);

  net::Connection& conn_;
  ImapContext& ctx_;
  proto::imap::CommandAssembler assembler_;
  // The spools of the command being run (Incoming::spools), for APPEND / REPLACE to hand to the store.
  std::vector<std::shared_ptr<Spool>> command_spools_;
  std::optional<auth::Principal> principal_;
  uint32_t commands_before_auth_ = 0;
  std::string outbuf_;
  bool broken_ = false;  // a write failed: the connection is going away

  // Authenticated state.
  std::shared_ptr<store::Account> account_;
  std::shared_ptr<FeedState> feed_;
  std::unique_ptr<store::ChangeFeed::Subscription> subscription_;
  bool condstore_ = false;  // ENABLE CONDSTORE or a CONDSTORE-using command [RFC 7162 §3.1]
  bool qresync_ = false;
  bool rev2_ = false;       // ENABLE IMAP4rev2 [RFC 9051 §6.3.1]
  bool utf8_ = false;       // ENABLE UTF8=ACCEPT [RFC 6855]

  // Selected state.
  std::unique_ptr<store::Mailbox> mailbox_;
  SelectedView view_;
  std::size_t keywords_defined_ = 0;  // how many of view_.known_keywords() went to ctx_.keywords
  // RETURN (UPDATE) searches kept up to date until CANCELUPDATE or the mailbox is closed [RFC 5267].
  struct UpdateSearch {
    std::string tag;
    proto::imap::SearchProgram program;
    bool uid = false;
    std::vector<store::Uid> matches;  // ascending: what the client was last told
  };
  std::vector<UpdateSearch> updates_;
};

}  // namespace posthorn::server::imap
