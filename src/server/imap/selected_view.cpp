#include "server/imap/selected_view.hpp"

#include <algorithm>

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

void SelectedView::open(const store::MailboxView& view, bool read_only) {
  uids_.clear();
  system_.clear();
  keywords_.clear();
  uids_.reserve(view.messages.size());
  system_.resize(view.messages.size());
  for (size_t i = 0; i < view.messages.size(); ++i) {
    uids_.push_back(view.messages[i].uid);
    set_flags(i, view.messages[i].flags);
  }
  pending_expunges_.clear();
  own_.clear();
  saved_.clear();
  first_recent_ = view.first_recent;
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
  own_.clear();
  open_ = false;
}

uint32_t SelectedView::recent_count() const {
  if (first_recent_ == 0) return 0;
  return static_cast<uint32_t>(uids_.end() - std::lower_bound(uids_.begin(), uids_.end(), first_recent_));
}

bool SelectedView::is_recent(Uid uid) const { return first_recent_ != 0 && uid >= first_recent_; }

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
  std::string fetches;
  for (const auto& m : changes.changed) {
    if (m.uid >= uid_next_) {
      // New since the view was last brought up to date (also this session's own APPEND/COPY).
      if (uids_.empty() || m.uid > uids_.back()) {
        uids_.push_back(m.uid);
        system_.push_back(0);
        set_flags(uids_.size() - 1, m.flags);
        if (!read_only_ && first_recent_ == 0) first_recent_ = m.uid;
      }
      continue;
    }
    auto seq = seq_of(m.uid);
    if (!seq) continue;  // expunged before this session learned of it
    set_flags(*seq - 1, m.flags);  // own changes too: the view keeps what the store has
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
  if (exists() != before) {
    out += "* " + std::to_string(exists()) + " EXISTS\r\n";
    if (options.recent) out += "* " + std::to_string(recent_count()) + " RECENT\r\n";
  }
  out += fetches;
  return out;
}

}  // namespace posthorn::server::imap
