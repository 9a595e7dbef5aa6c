// Implementation notes: the walk alternates between two levels. At the message level (the root,
// or the child of a message/rfc822 part) a multipart message numbers its children and any other
// message has only part 1, itself. At the part level a multipart numbers its children, a
// message/rfc822 part hands the next number to its embedded message, and a leaf has no subparts.
#include "mime/section.hpp"

namespace posthorn::mime {
namespace {

SectionRange header_of(const Part& p) { return SectionRange{p.header_offset, p.header_size}; }
SectionRange body_of(const Part& p) { return SectionRange{p.body_offset, p.body_size}; }

}  // namespace

std::optional<SectionRange> find_section(const Part& root, std::span<const std::uint32_t> path, SectionPart which) {
  if (path.empty()) {
    switch (which) {
      case SectionPart::kAll: return SectionRange{root.header_offset, root.header_size + root.body_size};
      case SectionPart::kHeader: return header_of(root);
      case SectionPart::kText: return body_of(root);
      case SectionPart::kMime: return std::nullopt;
    }
    return std::nullopt;
  }
  const Part* message = &root;  // the message the next number applies to, or nullptr
  const Part* part = nullptr;
  for (std::uint32_t n : path) {
    if (n == 0) return std::nullopt;
    if (message == nullptr) {
      if (part->is_message()) {
        message = &part->children.front();
      } else if (!part->is_multipart()) {
        return std::nullopt;  // a leaf has no subparts
      }
    }
    const Part& container = message != nullptr ? *message : *part;
    if (container.is_multipart()) {
      if (n > container.children.size()) return std::nullopt;
      part = &container.children[n - 1];
    } else {
      if (n != 1 || message == nullptr) return std::nullopt;
      part = message;  // a non-multipart message's only part is itself
    }
    message = nullptr;
  }
  switch (which) {
    case SectionPart::kAll: return body_of(*part);
    case SectionPart::kMime: return header_of(*part);
    case SectionPart::kHeader:
      if (!part->is_message()) return std::nullopt;
      return header_of(part->children.front());
    case SectionPart::kText:
      if (!part->is_message()) return std::nullopt;
      return body_of(part->children.front());
  }
  return std::nullopt;
}

}  // namespace posthorn::mime
