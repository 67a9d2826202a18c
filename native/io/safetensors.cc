// Reading safetensors files (io/safetensors.h; src/io/safetensors.ts wraps this). The header is parsed and validated strictly here, in one pass and
// without building a JSON tree, before any tensor is made; each tensor's bytes are then read
// straight into its storage. So memory follows what the file holds: a few bytes per header byte
// while parsing, and each tensor once, never a second copy of the data.
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <ATen/ATen.h>
#include <napi.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "core/args.h"
#include "core/errors.h"
#include "io/safetensors.h"

namespace skipnorm {

namespace {

// A format problem, reported to JavaScript as the file's SafetensorsError.
struct BadFile {
  std::string detail;
};

// A tensor of the header; its dimensions are dims[firstDim, firstDim + rank) of the header's list
// (one list for all entries: a file may hold many small tensors).
struct Entry {
  std::string name;
  at::ScalarType dtype;
  uint32_t firstDim, rank;
  int64_t begin, end;
};

struct Header {
  std::vector<Entry> entries;
  std::vector<int64_t> dims;
  std::vector<std::pair<std::string, std::string>> metadata;
  c10::IntArrayRef shape(const Entry& e) const { return c10::IntArrayRef(dims.data() + e.firstDim, e.rank); }
};

using io::kDtypes;

// A JSON reader for the header: values are read as they come (no tree), unknown ones skipped.
class HeaderParser {
 public:
  explicit HeaderParser(const std::string& text) : s_(text) {}

  [[noreturn]] void invalid(const std::string& what) const {
    throw BadFile{"the header is not valid JSON (" + what + " at position " + std::to_string(at_) + ")"};
  }
  void space() {
    while (at_ < s_.size() && (s_[at_] == ' ' || s_[at_] == '\t' || s_[at_] == '\n' || s_[at_] == '\r')) ++at_;
  }
  char peek() {
    space();
    return at_ < s_.size() ? s_[at_] : '\0';
  }
  void expect(char c) {
    if (peek() != c) invalid(std::string("expected '") + c + "'");
    ++at_;
  }
  bool done() {
    space();
    return at_ == s_.size();
  }
  size_t position() const { return at_; }

  std::string string() {
    if (peek() != '"') invalid("expected a string");
    ++at_;
    std::string out;
    while (true) {
      if (at_ >= s_.size()) invalid("unterminated string");
      const char c = s_[at_++];
      if (c == '"') return out;
      if (static_cast<unsigned char>(c) < 0x20) invalid("control character in a string");
      if (c != '\\') {
        out += c;
        continue;
      }
      if (at_ >= s_.size()) invalid("unterminated string");
      const char e = s_[at_++];
      switch (e) {
        case '"': case '\\': case '/': out += e; break;
        case 'b': out += '\b'; break;
        case 'f': out += '\f'; break;
        case 'n': out += '\n'; break;
        case 'r': out += '\r'; break;
        case 't': out += '\t'; break;
        case 'u': {
          uint32_t code = hex4();
          if (code >= 0xD800 && code < 0xDC00 && at_ + 1 < s_.size() && s_[at_] == '\\' && s_[at_ + 1] == 'u') {
            at_ += 2;
            const uint32_t low = hex4();
            if (low >= 0xDC00 && low < 0xE000) code = 0x10000 + ((code - 0xD800) << 10) + (low - 0xDC00);
            else {
              appendUtf8(out, 0xFFFD);
              code = low;
            }
          }
          appendUtf8(out, code >= 0xD800 && code < 0xE000 ? 0xFFFD : code);
          break;
        }
        default: invalid("bad escape in a string");
      }
    }
  }

  // A number, as JSON.parse reads it.
  double number() {
    space();
    const size_t start = at_;
    if (at_ < s_.size() && s_[at_] == '-') ++at_;
    if (at_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[at_]))) invalid("expected a number");
    if (s_[at_] == '0') ++at_;
    else while (at_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[at_]))) ++at_;
    if (at_ < s_.size() && s_[at_] == '.') {
      ++at_;
      if (at_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[at_]))) invalid("bad number");
      while (at_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[at_]))) ++at_;
    }
    if (at_ < s_.size() && (s_[at_] == 'e' || s_[at_] == 'E')) {
      ++at_;
      if (at_ < s_.size() && (s_[at_] == '+' || s_[at_] == '-')) ++at_;
      if (at_ >= s_.size() || !std::isdigit(static_cast<unsigned char>(s_[at_]))) invalid("bad number");
      while (at_ < s_.size() && std::isdigit(static_cast<unsigned char>(s_[at_]))) ++at_;
    }
    return std::strtod(s_.substr(start, at_ - start).c_str(), nullptr);
  }

  // An object: `member(key)` reads each member's value (the ':' after the key already read).
  template <typename Member>
  void members(Member member) {
    expect('{');
    if (peek() == '}') {
      ++at_;
      return;
    }
    while (true) {
      const std::string key = string();
      expect(':');
      member(key);
      if (peek() == ',') ++at_;
      else {
        expect('}');
        return;
      }
    }
  }

  // Any value, skipped; returns its source text (for messages).
  std::string skip(int depth = 0) {
    if (depth > 64) invalid("nesting too deep");
    const size_t start = (space(), at_);
    const char c = peek();
    if (c == '"') string();
    else if (c == '{') members([&](const std::string&) { skip(depth + 1); });
    else if (c == '[') {
      ++at_;
      if (peek() == ']') ++at_;
      else {
        while (true) {
          skip(depth + 1);
          if (peek() == ',') ++at_;
          else {
            expect(']');
            break;
          }
        }
      }
    } else if (literal("true") || literal("false") || literal("null")) {
    } else number();
    return s_.substr(start, at_ - start);
  }

  // A JSON array of numbers (else nullopt, with the value skipped); `text` gets its source.
  std::optional<std::vector<double>> numbers(std::string& text) {
    const size_t start = (space(), at_);
    if (peek() != '[') {
      text = skip();
      return std::nullopt;
    }
    ++at_;
    std::vector<double> out;
    bool ok = true;
    if (peek() == ']') ++at_;
    else {
      while (true) {
        const char c = peek();
        if (c == '-' || std::isdigit(static_cast<unsigned char>(c))) out.push_back(number());
        else {
          skip(1);
          ok = false;
        }
        if (peek() == ',') ++at_;
        else {
          expect(']');
          break;
        }
      }
    }
    text = s_.substr(start, at_ - start);
    return ok ? std::optional<std::vector<double>>(out) : std::nullopt;
  }

 private:
  bool literal(const char* word) {
    const size_t n = std::strlen(word);
    if (s_.compare(at_, n, word) != 0) return false;
    at_ += n;
    return true;
  }
  uint32_t hex4() {
    if (at_ + 4 > s_.size()) invalid("bad \\u escape");
    uint32_t v = 0;
    for (int i = 0; i < 4; ++i) {
      const char c = s_[at_++];
      v <<= 4;
      if (c >= '0' && c <= '9') v |= c - '0';
      else if (c >= 'a' && c <= 'f') v |= c - 'a' + 10;
      else if (c >= 'A' && c <= 'F') v |= c - 'A' + 10;
      else invalid("bad \\u escape");
    }
    return v;
  }
  static void appendUtf8(std::string& out, uint32_t c) {
    if (c < 0x80) out += static_cast<char>(c);
    else if (c < 0x800) {
      out += static_cast<char>(0xC0 | (c >> 6));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else if (c < 0x10000) {
      out += static_cast<char>(0xE0 | (c >> 12));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    } else {
      out += static_cast<char>(0xF0 | (c >> 18));
      out += static_cast<char>(0x80 | ((c >> 12) & 0x3F));
      out += static_cast<char>(0x80 | ((c >> 6) & 0x3F));
      out += static_cast<char>(0x80 | (c & 0x3F));
    }
  }

  const std::string& s_;
  size_t at_ = 0;
};

bool isCount(double v) { return std::isfinite(v) && v >= 0 && v <= 9007199254740991.0 && std::trunc(v) == v; }

// The header's entries and metadata, validated against `dataBytes` bytes of data.
void parseHeader(const std::string& header, int64_t dataBytes, Header& out) {
  auto& entries = out.entries;
  auto& metadata = out.metadata;
  HeaderParser p(header);
  if (p.peek() != '{') {
    p.skip();  // valid JSON that is not an object, or not JSON at all
    throw BadFile{"the header is not a JSON object"};
  }
  bool hasMetadata = false;
  p.members([&](const std::string& name) {
    if (name == "__metadata__") {
      if (hasMetadata) throw BadFile{"entry '__metadata__' is given twice"};
      hasMetadata = true;
      if (p.peek() != '{') {
        p.skip();
        throw BadFile{"__metadata__ must be an object of strings"};
      }
      p.members([&](const std::string& key) {
        if (p.peek() != '"') {
          p.skip();
          throw BadFile{"__metadata__." + key + " must be a string"};
        }
        metadata.emplace_back(key, p.string());
      });
      return;
    }
    if (p.peek() != '{') {
      p.skip();
      throw BadFile{"entry '" + name + "' is not an object"};
    }
    std::string dtype = "undefined", shapeText = "undefined", offsetsText = "undefined";
    std::optional<std::vector<double>> shape, offsets;
    bool dtypeIsString = false;
    p.members([&](const std::string& field) {
      if (field == "dtype") {
        dtypeIsString = p.peek() == '"';
        dtype = dtypeIsString ? p.string() : p.skip();
      } else if (field == "shape") {
        shape = p.numbers(shapeText);
      } else if (field == "data_offsets") {
        offsets = p.numbers(offsetsText);
      } else {
        p.skip();
      }
    });
    const io::DtypeInfo* info = nullptr;
    for (const auto& d : kDtypes) {
      if (dtypeIsString && dtype == d.name) info = &d;
    }
    if (!info) throw BadFile{"entry '" + name + "' has an unsupported dtype " + (dtypeIsString ? "\"" + dtype + "\"" : dtype)};
    if (!shape || !std::all_of(shape->begin(), shape->end(), isCount)) throw BadFile{"entry '" + name + "' has an invalid shape " + shapeText};
    if (!offsets || offsets->size() != 2 || !std::all_of(offsets->begin(), offsets->end(), isCount)) {
      throw BadFile{"entry '" + name + "' has invalid data_offsets " + offsetsText};
    }
    const int64_t begin = static_cast<int64_t>((*offsets)[0]), end = static_cast<int64_t>((*offsets)[1]);
    if (begin > end || end > dataBytes) {
      throw BadFile{"entry '" + name + "' has data_offsets [" + std::to_string(begin) + ", " + std::to_string(end) + "] outside the " + std::to_string(dataBytes) + " bytes of data"};
    }
    Entry e{name, info->type, static_cast<uint32_t>(out.dims.size()), static_cast<uint32_t>(shape->size()), begin, end};
    double numel = 1;
    for (double d : *shape) {
      out.dims.push_back(static_cast<int64_t>(d));
      numel *= d;
    }
    const double needed = numel * static_cast<double>(c10::elementSize(info->type));
    if (needed != static_cast<double>(end - begin)) {
      std::string dims;
      for (size_t i = 0; i < shape->size(); ++i) dims += (i ? ", " : "") + std::to_string(static_cast<int64_t>((*shape)[i]));
      char bytes[32];
      std::snprintf(bytes, sizeof(bytes), "%.0f", needed);
      throw BadFile{"entry '" + name + "': " + dtypeName(info->type) + " of shape [" + dims + "] needs " + bytes + " bytes, but data_offsets give " + std::to_string(end - begin)};
    }
    entries.push_back(std::move(e));
  });
  if (!p.done()) p.invalid("unexpected text after the header object");
  std::vector<const Entry*> sorted;
  for (const auto& e : entries) sorted.push_back(&e);
  // Names are keys: each once.
  std::sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) { return a->name < b->name; });
  for (size_t i = 1; i < sorted.size(); ++i) {
    if (sorted[i]->name == sorted[i - 1]->name) throw BadFile{"entry '" + sorted[i]->name + "' is given twice"};
  }
  // The data must be covered exactly, without overlaps or holes, as safetensors requires.
  std::sort(sorted.begin(), sorted.end(), [](const Entry* a, const Entry* b) { return a->begin < b->begin || (a->begin == b->begin && a->end < b->end); });
  int64_t position = 0;
  for (const Entry* e : sorted) {
    if (e->begin != position) throw BadFile{e->begin < position ? "entry '" + e->name + "' overlaps another tensor" : "there is a hole in the data before entry '" + e->name + "'"};
    position = e->end;
  }
  if (position != dataBytes) throw BadFile{"the data holds " + std::to_string(dataBytes) + " bytes but the tensors cover " + std::to_string(position)};
}

// Reads exactly n bytes at offset (n may exceed what one read moves).
void readAt(int fd, void* into, int64_t n, int64_t offset) {
  auto* p = static_cast<char*>(into);
  while (n > 0) {
    const ssize_t got = ::pread(fd, p, static_cast<size_t>(std::min<int64_t>(n, int64_t{1} << 30)), offset);
    if (got < 0 && errno == EINTR) continue;
    if (got < 0) throw BadFile{std::string("cannot read: ") + std::strerror(errno)};
    if (got == 0) throw BadFile{"the file ended after " + std::to_string(offset) + " bytes (truncated while reading?)"};
    p += got;
    n -= got;
    offset += got;
  }
}

struct FileDescriptor {
  int fd = -1;
  ~FileDescriptor() {
    if (fd >= 0) ::close(fd);
  }
};

// readSafetensors(file, maxHeaderBytes, headerOnly) -> { metadata: [[k, v]], names, tensors } or { error }
Napi::Value ReadSafetensors(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const std::string file = stringArg(info, 0);
  const int64_t maxHeader = intArg(info, 1);
  const bool headerOnly = boolArg(info, 2);
  Header parsed;
  auto& entries = parsed.entries;
  auto& metadata = parsed.metadata;
  std::vector<at::Tensor> tensors;
  try {
    FileDescriptor f;
    // Non-blocking: opening a FIFO for reading would otherwise wait for a writer for ever.
    f.fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (f.fd < 0) throw BadFile{std::string("cannot open: ") + std::strerror(errno)};
    struct stat st {};
    if (::fstat(f.fd, &st) != 0) throw BadFile{std::string("cannot open: ") + std::strerror(errno)};
    if (S_ISDIR(st.st_mode)) throw BadFile{"it is a folder, not a file"};
    if (!S_ISREG(st.st_mode)) throw BadFile{"it is not a regular file"};
    const int64_t size = st.st_size;
    if (size < 8) throw BadFile{"the file has " + std::to_string(size) + " bytes: too short for a safetensors header"};
    uint64_t headerLength = 0;
    readAt(f.fd, &headerLength, 8, 0);  // little-endian, as x86 and ARM Linux are
    if (headerLength > static_cast<uint64_t>(maxHeader)) {
      throw BadFile{"the header claims " + std::to_string(headerLength) + " bytes, more than the " + std::to_string(maxHeader) + "-byte limit"};
    }
    if (static_cast<int64_t>(headerLength) + 8 > size) {
      throw BadFile{"the header claims " + std::to_string(headerLength) + " bytes but the file has only " + std::to_string(size) + " (truncated?)"};
    }
    std::string header(headerLength, '\0');
    readAt(f.fd, header.data(), static_cast<int64_t>(headerLength), 8);
    const int64_t dataStart = 8 + static_cast<int64_t>(headerLength);
    parseHeader(header, size - dataStart, parsed);
    std::string().swap(header);
    if (!headerOnly) {
      for (const auto& e : entries) {
        at::Tensor t = at::empty(parsed.shape(e), at::TensorOptions().dtype(e.dtype));
        if (e.end > e.begin) readAt(f.fd, t.data_ptr(), e.end - e.begin, dataStart + e.begin);
        tensors.push_back(std::move(t));
      }
    }
  } catch (const BadFile& bad) {
    Napi::Object out = Napi::Object::New(env);
    out.Set("error", Napi::String::New(env, bad.detail));
    return out;
  }
  Napi::Object out = Napi::Object::New(env);
  Napi::Array meta = Napi::Array::New(env, metadata.size());
  for (size_t i = 0; i < metadata.size(); ++i) {
    Napi::Array pair = Napi::Array::New(env, 2);
    pair.Set(0u, Napi::String::New(env, metadata[i].first));
    pair.Set(1u, Napi::String::New(env, metadata[i].second));
    meta.Set(static_cast<uint32_t>(i), pair);
  }
  out.Set("metadata", meta);
  Napi::Array names = Napi::Array::New(env, entries.size());
  for (size_t i = 0; i < entries.size(); ++i) names.Set(static_cast<uint32_t>(i), Napi::String::New(env, entries[i].name));
  out.Set("names", names);
  out.Set("tensors", wrapTensors(env, tensors));
  return out;
}

}  // namespace

void registerSafetensors(Napi::Env env, Napi::Object exports) {
  exportFunction(env, exports, "readSafetensors", ReadSafetensors);
  exportFunction(env, exports, "writeSafetensors", io::WriteSafetensors);
}

}  // namespace skipnorm
