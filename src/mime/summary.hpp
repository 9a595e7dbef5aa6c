// The cached parse of one message (DESIGN.md §4): computed once when the message is stored, kept
// in the index as bytes, and decoded when IMAP FETCH needs ENVELOPE, BODYSTRUCTURE, a section's
// offsets or PREVIEW, so the message itself is not read for them.
// Depends only on src/base and mime/*. Pure functions; thread-safe.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "base/result.hpp"
#include "mime/envelope.hpp"
#include "mime/message.hpp"

namespace posthorn::mime {

struct MessageSummary {
  Part root;            // the MIME tree; offsets are into the whole stored message
  Envelope envelope;    // of the message itself
  // Envelopes of the embedded messages (message/rfc822, message/global parts with a child), in
  // depth-first pre-order of the tree, so BODYSTRUCTURE can be formatted without the bytes.
  std::vector<Envelope> embedded;
  std::string preview;  // [RFC 8970] up to 200 UTF-8 characters of the first text part, decoded

  bool operator==(const MessageSummary&) const = default;
};

inline constexpr std::size_t kPreviewChars = 200;        // [RFC 8970 §3]: at most 200 characters
inline constexpr std::size_t kPreviewScanBytes = 8'192;  // encoded bytes of the text part read
// summarize() clamps MessageOptions::max_depth to this, and decode_summary() rejects deeper trees,
// so every summary that summarize() makes can be decoded.
inline constexpr std::size_t kMaxSummaryDepth = 500;

// Parses `message` (bounded in time and memory for any input, never fails). The preview comes from
// the first text/plain part that is not an attachment (else the first text/html, tags stripped),
// searched depth-first without entering embedded messages.
MessageSummary summarize(std::string_view message, const MessageOptions& options = {});

// The summary of `prefix + message` made from the summary of `message` alone, where the prefix is
// `prefix_size` bytes of whole header fields, each ending in CRLF, that a delivery puts in front of
// the message (Return-Path, Received): every offset moves by prefix_size and the top header grows
// by it; the envelope, embedded envelopes and preview do not change (no such field is in them).
// Exact when joins_header(message); a delivery to several accounts parses the message once.
MessageSummary with_prefix(MessageSummary summary, std::size_t prefix_size);
// Whether header fields put in front of `message` become part of its header and change nothing
// else: the message begins with a header field ("name:") or with the blank line of an empty header,
// and its header is short of MessageOptions' field cap by a margin (at the cap the prefix would
// push the last fields out).
bool joins_header(std::string_view message, const MessageOptions& options = {});

// A compact, versioned byte encoding of a summary. decode(encode(s)) == s. decode_summary returns
// Errc::kInvalid for bytes that are not an encoding of this or an older version (never crashes).
std::string encode_summary(const MessageSummary& summary);
Result<MessageSummary> decode_summary(std::string_view bytes);
// The envelope of the message alone, passing over the encoded MIME tree without building it: what
// SEARCH FROM/TO/CC/BCC/SUBJECT/SENT* and FETCH ENVELOPE need, at a fraction of decode_summary's
// cost. Checks the bytes up to the end of the envelope only (the rest is not read).
Result<Envelope> decode_envelope(std::string_view bytes);

}  // namespace posthorn::mime
