#include "server/imap/selected_view.hpp"

#include <algorithm>

#include "base/ascii.hpp"
#include "proto/imap/response.hpp"
#include "server/imap/imap_format.hpp"

namespace posthorn::server::imap {

using store::Uid;

namespace {
// A bit the system flags never use: the message has keywords (in keywords_).
constexpr uint8_t kHasKeywords = 0x80;
static_assert((store::kAllSystemFlags & kHasKeywords) == 0);
}  // namespace

store::Flags SelectedView::flags_at(uint32_t seq) const {
  store::Flags f;
  const uint8_t bits = system_[seq - 1];
  f.system = bits & store::kAllSystemFlags;
  if ((bits & kHasKeywords) != 0) {
    if (auto it = keywords_.find(uids_[seq - 1]); it != keywords_.end()) f.keywords = it->second;
  }
  return f;
}

void SelectedView::set_flags(size_t index, const store::Flags& flags) {
  const Uid uid = uids_[index];
  uint8_t bits = flags.system & store::kAllSystemFlags;
  if (flags.keywords.empty()) {
    if ((system_[index] & kHasKeywords) != 0) keywords_.erase(uid);
  } else {
    bits |= kHasKeywords;
    keywords_[uid] = flags.keywords;
  }
  system_[index] = bits;
}

void SelectedView::erase_at(const std::vector<size_t>& indices) {
  if (indices.empty()) return;
  size_t out = indices.front();
  for (size_t k = 0; k < indices.size(); ++k) {
    const size_t i = indices[k];
    if ((system_[i] & kHasKeywords) != 0) keywords_.erase(uids_[i]);
    const size_t end = k + 1 < indices.size() ? indices[k + 1] : uids_.size();
    for (size_t j = i + 1; j < end; ++j, ++out) {
      uids_[out] = uids_[j];
      system_[out] = system_[j];
    }
  }
  uids_.resize(out);
  system_.resize(out);
}

bool SelectedView::add_keywords(const store::Flags& flags) {
  bool added = false;
  for (const auto& k : flags.keywords) {
    const bool known = std::any_of(known_keywords_.begin(), known_keywords_.end(),
                                   [&k](const std::string& x) { return ascii::iequals(x, k); });
    if (!known) {
      known_keywords_.push_back(k);
      added = true;
    }
  }
  return added;
}

std::string SelectedView::learn_keywords(const store::Flags& flags) {
  return add_keywords(flags) ? flags_response() : std::string();
}

std::string SelectedView::flags_response() const {
  namespace pi = proto::imap;
  std::string kw;
  for (const auto& k : known_keywords_) kw += " " + k;
  std::string out = pi::untagged_data("FLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft" + kw + ")");
  out += pi::untagged(pi::Status::kOk,
                      read_only_ ? std::string("PERMANENTFLAGS ()")
                                 : "PERMANENTFLAGS (\\Answered \\Flagged \\Deleted \\Seen \\Draft" + kw + " \\*)",
                      "Flags permitted");
  return out;
}

void SelectedView::add_recent(store::UidRange range) {
  if (range.first == 0 || range.last < range.first) return;
  if (recent_.empty() || recent_.back().last + 1 < range.first) {
    recent_.push_back(range);
    return;
  }
  if (recent_.back().first <= range.first) {
    recent_.back().last = std::max(recent_.back().last, range.last);
    return;
  }
  // Out of order (not expected): insert and merge.
  recent_.push_back(range);
  std::sort(recent_.begin(), recent_.end(), [](const store::UidRange& a, const store::UidRange& b) { return a.first < b.first; });
  std::vector<store::UidRange> merged;
  for (const auto& r : recent_) {
    if (!merged.empty() && merged.back().last + 1 >= r.first) {
      merged.back().last = std::max(merged.back().last, r.last);
    } else {
      merged.push_back(r);
    }
  }
  recent_.swap(merged);
}

void SelectedView::open(const store::MailboxView& view, bool read_only, const std::vector<std::string>& defined) {
  uids_.clear();
  system_.clear();
  keywords_.clear();
  known_keywords_.clear();
  uids_.reserve(view.messages.size());
  system_.resize(view.messages.size());
  std::vector<std::string> keywords;
  for (size_t i = 0; i < view.messages.size(); ++i) {
    uids_.push_back(view.messages[i].uid);
    set_flags(i, view.messages[i].flags);
    for (const auto& k : view.messages[i].flags.keywords) keywords.push_back(k);
  }
  std::sort(keywords.begin(), keywords.end());
  keywords.erase(std::unique(keywords.begin(), keywords.end()), keywords.end());
  add_keywords(store::Flags{0, defined});
  add_keywords(store::Flags{0, std::move(keywords)});
  pending_expunges_.clear();
  own_.clear();
  saved_.clear();
  recent_.clear();
  // SELECT claimed [first_recent, uid_next); EXAMINE sees the same without claiming them.
  if (view.first_recent != 0 && view.first_recent < view.mailbox.uid_next) {
    add_recent(store::UidRange{view.first_recent, view.mailbox.uid_next - 1});
  }
  modseq_ = view.mailbox.highest_modseq;
  uid_validity_ = view.mailbox.uid_validity;
  uid_next_ = view.mailbox.uid_next;
  read_only_ = read_only;
  open_ = true;
}

void SelectedView::close() {
  std::vector<Uid>().swap(uids_);  // give the memory back: an idle session stays small
  std::vector<uint8_t>().swap(system_);
  std::unordered_map<Uid, std::vector<std::string>>().swap(keywords_);
  std::vector<Uid>().swap(pending_expunges_);
  std::vector<Uid>().swap(saved_);
  std::vector<store::UidRange>().swap(recent_);
  std::vector<std::string>().swap(known_keywords_);
  own_.clear();
  open_ = false;
}

uint32_t SelectedView::recent_count() const {
  size_t n = 0;
  for (const auto& r : recent_) {
    n += static_cast<size_t>(std::upper_bound(uids_.begin(), uids_.end(), r.last) -
                             std::lower_bound(uids_.begin(), uids_.end(), r.first));
  }
  return static_cast<uint32_t>(n);
}

bool SelectedView::is_recent(Uid uid) const {
  auto it = std::lower_bound(recent_.begin(), recent_.end(), uid,
                             [](const store::UidRange& r, Uid u) { return r.last < u; });
  return it != recent_.end() && it->first <= uid;
}

std::optional<uint32_t> SelectedView::seq_of(Uid uid) const {
  auto it = std::lower_bound(uids_.begin(), uids_.end(), uid);
  if (it == uids_.end() || *it != uid) return std::nullopt;
  return static_cast<uint32_t>(it - uids_.begin()) + 1;
}

Result<std::vector<Uid>> SelectedView::resolve(const proto::imap::SequenceSet& set, bool by_uid) const {
  std::vector<Uid> out;
  if (set.saved) {
    // "$" names what is left of the saved result: expunged messages drop out [RFC 5182 §2.1].
    for (Uid uid : saved_) {
      if (seq_of(uid)) out.push_back(uid);
    }
    return out;
  }
  if (by_uid) {
    const Uid largest = uids_.empty() ? 0 : uids_.back();
    for (const auto& r : set.resolve(largest)) {
      auto it = std::lower_bound(uids_.begin(), uids_.end(), r.first);
      for (; it != uids_.end() && *it <= r.last; ++it) out.push_back(*it);
    }
    return out;
  }
  for (const auto& r : set.resolve(exists())) {
    if (r.last > exists()) return make_error(Errc::kInvalid, "Invalid message sequence number");
    for (uint32_t s = r.first; s <= r.last; ++s) out.push_back(uids_[s - 1]);
  }
  return out;
}

void SelectedView::note_own_change(Uid uid, store::ModSeq modseq) { own_.emplace_back(uid, modseq); }

void SelectedView::remember_flags(Uid uid, const store::Flags& flags) {
  if (auto seq = seq_of(uid)) set_flags(*seq - 1, flags);
}

std::string SelectedView::expunge(const std::vector<Uid>& expunged, const ViewOptions& options) {
  std::vector<uint32_t> seqs;  // ascending
  std::vector<Uid> gone;
  std::vector<size_t> indices;
  for (Uid uid : expunged) {
    if (auto seq = seq_of(uid)) {
      seqs.push_back(*seq);
      gone.push_back(uid);
      indices.push_back(*seq - 1);
    }
  }
  if (gone.empty()) return {};
  std::string out;
  if (options.qresync) {
    out = "* VANISHED " + proto::imap::compact_set(gone) + "\r\n";
  } else {
    // Highest first, so every number is still valid when the client reads it.
    for (auto it = seqs.rbegin(); it != seqs.rend(); ++it) out += "* " + std::to_string(*it) + " EXPUNGE\r\n";
  }
  std::sort(indices.begin(), indices.end());
  erase_at(indices);
  std::vector<Uid> still;
  std::set_difference(pending_expunges_.begin(), pending_expunges_.end(), gone.begin(), gone.end(),
                      std::back_inserter(still));
  pending_expunges_.swap(still);
  return out;
}

std::string SelectedView::release_expunges(const ViewOptions& options) {
  std::vector<Uid> pending;
  pending.swap(pending_expunges_);
  return expunge(pending, options);
}

std::string SelectedView::apply(const store::Changes& changes, bool allow_expunge, const ViewOptions& options) {
  std::string out;
  // Expunges first: the sequence numbers of FETCH responses below are then the final ones.
  std::vector<Uid> merged;
  std::set_union(pending_expunges_.begin(), pending_expunges_.end(), changes.vanished.begin(),
                 changes.vanished.end(), std::back_inserter(merged));
  std::vector<Uid> known;
  for (Uid uid : merged) {
    if (std::binary_search(uids_.begin(), uids_.end(), uid)) known.push_back(uid);
  }
  pending_expunges_ = std::move(known);
  if (allow_expunge) out += release_expunges(options);

  const uint32_t before = exists();
  if (!read_only_ && changes.claimed_recent) add_recent(*changes.claimed_recent);
  std::string fetches;
  bool new_keywords = false;
  for (const auto& m : changes.changed) {
    if (m.uid >= uid_next_) {
      // New since the view was last brought up to date (also this session's own APPEND/COPY).
      if (uids_.empty() || m.uid > uids_.back()) {
        uids_.push_back(m.uid);
        system_.push_back(0);
        set_flags(uids_.size() - 1, m.flags);
        new_keywords = add_keywords(m.flags) || new_keywords;
      }
      continue;
    }
    auto seq = seq_of(m.uid);
    if (!seq) continue;  // expunged before this session learned of it
    set_flags(*seq - 1, m.flags);  // own changes too: the view keeps what the store has
    new_keywords = add_keywords(m.flags) || new_keywords;
    const bool own = std::find(own_.begin(), own_.end(), std::make_pair(m.uid, m.modseq)) != own_.end();
    if (own) continue;
    fetches += "* " + std::to_string(*seq) + " FETCH (FLAGS " + format_flags(m.flags, options.recent && is_recent(m.uid));
    if (options.condstore || options.qresync) {
      fetches += " UID " + std::to_string(m.uid) + " MODSEQ (" + std::to_string(m.modseq) + ")";
    }
    fetches += ")\r\n";
  }
  own_.clear();
  if (!uids_.empty() && uids_.back() >= uid_next_) uid_next_ = uids_.back() + 1;
  uid_next_ = std::max(uid_next_, changes.uid_next);
  modseq_ = std::max(modseq_, changes.highest_modseq);
  // A keyword is announced in FLAGS before any response that shows it [RFC 3501 §7.2.6].
  if (new_keywords) out += flags_response();
  if (exists() != before) {
    out += "* " + std::to_string(exists()) + " EXISTS\r\n";
    if (options.recent) out += "* " + std::to_string(recent_count()) + " RECENT\r\n";
  }
  out += fetches;
  return out;
}

}  // namespace posthorn::server::imap
