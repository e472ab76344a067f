#include "fetch/line_splitter.h"

namespace hangar {
namespace {
std::string_view DropCr(std::string_view line) {
  if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
  return line;
}
}  // namespace

Status LineSplitter::Feed(std::string_view data) {
  while (!data.empty()) {
    size_t nl = data.find('\n');
    if (nl == std::string_view::npos) {
      if (pending_.size() + data.size() > max_line_) {
        return ResourceExhaustedError("a streamed line is longer than " +
                                      std::to_string(max_line_) + " bytes");
      }
      pending_.append(data);
      return Status::Ok();
    }
    Status s;
    if (pending_.empty()) {
      s = on_line_(DropCr(data.substr(0, nl)));
    } else {
      pending_.append(data.substr(0, nl));
      std::string line = std::move(pending_);
      pending_.clear();
      s = on_line_(DropCr(line));
    }
    if (!s.ok()) return s;
    data.remove_prefix(nl + 1);
  }
  return Status::Ok();
}

Status LineSplitter::Finish() {
  if (pending_.empty()) return Status::Ok();
  std::string line = std::move(pending_);
  pending_.clear();
  return on_line_(DropCr(line));
}

}  // namespace hangar
