// The packed format written by `skipnorm data pack`: pre-resized uint8 images and labels in one
// file, memory-mapped when read (the page cache serves every epoch after the first).
//   bytes 0..7    "SNPACK01"
//   bytes 8..15   little-endian uint64 L, the length of the JSON header
//   16..16+L      JSON { "count", "height", "width", "channels", "classes", "classNames" }, which
//                 may end in spaces (a writer that streams the images pads it)
//   then, each aligned to 64 bytes: labels int64 [count], images uint8 [count, H, W, C]
#include <c10/util/Exception.h>
#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>

#include "data/dataset.h"
#include "data/parallel.h"
#include "data/transforms.h"
#include "io/atomic_file.h"

namespace skipnorm::data {

namespace {

constexpr char kMagic[9] = "SNPACK01";
constexpr int64_t kAlign = 64;
int64_t aligned(int64_t x) { return (x + kAlign - 1) / kAlign * kAlign; }

// A tiny reader for the flat JSON header we write: numbers, strings and one array of strings.
struct HeaderReader {
  const std::string& s;
  size_t at = 0;
  void skipSpace() { while (at < s.size() && std::isspace(static_cast<unsigned char>(s[at]))) ++at; }
  void expect(char c) {
    skipSpace();
    TORCH_CHECK(at < s.size() && s[at] == c, "packed file: malformed header (expected '", c, "' at byte ", at, ")");
    ++at;
  }
  bool peek(char c) { skipSpace(); return at < s.size() && s[at] == c; }
  std::string string() {
    expect('"');
    std::string out;
    while (at < s.size() && s[at] != '"') {
      if (s[at] == '\\') {
        TORCH_CHECK(++at < s.size(), "packed file: malformed header string");
        const char e = s[at];
        out += e == 'n' ? '\n' : e == 't' ? '\t' : e;
      } else {
        out += s[at];
      }
      ++at;
    }
    expect('"');
    return out;
  }
  int64_t number() {
    skipSpace();
    const bool negative = at < s.size() && s[at] == '-';
    size_t end = negative ? at + 1 : at;
    int64_t v = 0;
    for (; end < s.size() && std::isdigit(static_cast<unsigned char>(s[end])); ++end) {
      TORCH_CHECK(v < 100'000'000'000'000'000LL, "packed file: malformed header (a number at byte ", at, " is too large)");
      v = v * 10 + (s[end] - '0');
    }
    TORCH_CHECK(end > at + (negative ? 1 : 0), "packed file: malformed header (expected a number at byte ", at, ")");
    at = end;
    return negative ? -v : v;
  }
};

std::string jsonString(const std::string& v) {
  std::string out = "\"";
  for (char c : v) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') { out += "\\n"; continue; }
    if (static_cast<unsigned char>(c) < 0x20) continue;
    out += c;
  }
  return out + "\"";
}

class PackedDataset : public Dataset {
 public:
  at::Tensor images, labelTensor;
  int64_t size() const override { return images.size(0); }
  int64_t label(int64_t index) const override { return labelTensor.data_ptr<int64_t>()[index]; }
  ImageView pixels(int64_t index, const CropPlan& plan, PixelBuffer&) const override {
    const int64_t h = images.size(1), w = images.size(2), c = images.size(3);
    return applyCrop(ImageView{images.data_ptr<uint8_t>() + index * h * w * c, h, w, c, w * c}, plan);
  }
};

}  // namespace

std::shared_ptr<Dataset> openPacked(const std::string& file) {
  // Non-blocking: opening a FIFO for reading would otherwise wait for a writer for ever.
  const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
  TORCH_CHECK(fd >= 0, "cannot open ", file, ": ", std::strerror(errno));
  struct stat st {};
  ::fstat(fd, &st);
  const int64_t fileSize = st.st_size;
  if (fileSize < 16 || !S_ISREG(st.st_mode)) {
    ::close(fd);
    TORCH_CHECK(false, file, ": not a packed skipnorm dataset (too short)");
  }
  void* map = ::mmap(nullptr, static_cast<size_t>(fileSize), PROT_READ, MAP_SHARED, fd, 0);
  ::close(fd);
  TORCH_CHECK(map != MAP_FAILED, "cannot map ", file, ": ", std::strerror(errno));
  // The mapping lives as long as any tensor viewing it.
  auto mapping = std::shared_ptr<void>(map, [fileSize](void* p) { ::munmap(p, static_cast<size_t>(fileSize)); });
  const auto* bytes = static_cast<const uint8_t*>(map);
  TORCH_CHECK(std::memcmp(bytes, kMagic, 8) == 0, file, ": not a packed skipnorm dataset (wrong magic bytes)");
  uint64_t headerLength = 0;
  std::memcpy(&headerLength, bytes + 8, 8);
  TORCH_CHECK(headerLength <= static_cast<uint64_t>(fileSize - 16) && headerLength < (1u << 30), file, ": header length ", headerLength, " does not fit the file");
  const std::string header(reinterpret_cast<const char*>(bytes + 16), headerLength);
  int64_t count = -1, height = -1, width = -1, channels = -1, classes = -1;
  std::vector<std::string> names;
  HeaderReader r{header};
  r.expect('{');
  while (!r.peek('}')) {
    const std::string key = r.string();
    r.expect(':');
    if (key == "classNames") {
      r.expect('[');
      while (!r.peek(']')) {
        names.push_back(r.string());
        if (r.peek(',')) r.expect(',');
      }
      r.expect(']');
    } else {
      const int64_t v = r.number();
      if (key == "count") count = v;
      if (key == "height") height = v;
      if (key == "width") width = v;
      if (key == "channels") channels = v;
      if (key == "classes") classes = v;
    }
    if (r.peek(',')) r.expect(',');
  }
  TORCH_CHECK(count >= 0 && count <= (int64_t{1} << 40) && height > 0 && width > 0 && (channels == 1 || channels == 3) && classes > 0 && height <= 65536 && width <= 65536,
              file, ": header has a missing or implausible count, height, width, channels or classes");
  const int64_t labelsAt = aligned(16 + static_cast<int64_t>(headerLength));
  const int64_t imagesAt = aligned(labelsAt + 8 * count);
  const int64_t expected = imagesAt + count * height * width * channels;
  TORCH_CHECK(expected == fileSize, file, ": ", fileSize, " bytes, the header describes ", expected, " (truncated or not a packed file)");
  auto dataset = std::make_shared<PackedDataset>();
  auto keep = [mapping](void*) {};
  dataset->labelTensor = at::from_blob(const_cast<uint8_t*>(bytes + labelsAt), {count}, keep, at::TensorOptions().dtype(at::kLong));
  dataset->images = at::from_blob(const_cast<uint8_t*>(bytes + imagesAt), {count, height, width, channels}, keep, at::TensorOptions().dtype(at::kByte));
  if (count > 0) {
    const int64_t lo = dataset->labelTensor.min().item<int64_t>(), hi = dataset->labelTensor.max().item<int64_t>();
    TORCH_CHECK(lo >= 0 && hi < classes, file, ": labels range over ", lo, "..", hi, ", outside 0..", classes - 1);
  }
  dataset->format = "packed";
  dataset->classes = classes;
  dataset->classNames = names;
  return dataset;
}

int64_t writePacked(const Dataset& dataset, const std::string& file, int64_t height, int64_t width, int threads, JobContext& ctx) {
  TORCH_CHECK(height > 0 && width > 0, "pack: the size must be positive");
  const int64_t n = dataset.size();
  // Resize the shorter side to the larger target side, then center-crop: as an evaluation transform.
  Pipeline pipeline;
  pipeline.steps.push_back(TransformStep::resize({std::max(height, width)}));
  pipeline.steps.push_back(TransformStep::centerCrop(height, width));
  auto headerFor = [&](int64_t count, int64_t channels) {
    std::string header = "{\"height\":" + std::to_string(height) + ",\"width\":" + std::to_string(width) + ",\"channels\":" + std::to_string(channels) +
                         ",\"classes\":" + std::to_string(dataset.classes) + ",\"classNames\":[";
    for (size_t c = 0; c < dataset.classNames.size(); ++c) header += (c ? "," : "") + jsonString(dataset.classNames[c]);
    return header + "],\"count\":" + std::to_string(count) + "}";
  };
  // The images stream to the file from an offset fixed before the count is known (the count if
  // every example is kept); at the end the header is padded with spaces so that the labels end
  // where the images begin. Memory is one piece of images, not the dataset.
  const int64_t imagesAt = aligned(aligned(16 + static_cast<int64_t>(headerFor(n, 3).size())) + 8 * n);
  const int64_t slotBytes = height * width * 3;  // room for up to 3 channels
  const int64_t piece = std::min(std::max((int64_t{64} << 20) / slotBytes, int64_t{4} * std::max(1, threads)), std::max<int64_t>(n, 1));
  std::unique_ptr<uint8_t[]> pixels(new uint8_t[static_cast<size_t>(piece * slotBytes)]);
  std::vector<int64_t> channelsOf(static_cast<size_t>(piece)), labels;
  io::AtomicFile f(file, "pack");
  f.seek(static_cast<uint64_t>(imagesAt));
  int64_t channels = -1;
  for (int64_t start = 0; start < n; start += piece) {
    const int64_t m = std::min(piece, n - start);
    parallelFor(
        m, threads,
        [&](int64_t j) {
          thread_local Scratch scratch;  // per worker thread, freed when it ends
          channelsOf[j] = 0;
          try {
            const ImageView v = pipeline.run(dataset, start + j, nullptr, scratch).view;
            for (int64_t y = 0; y < v.height; ++y) std::memcpy(pixels.get() + j * slotBytes + y * v.width * v.channels, v.row(y), v.width * v.channels);
            channelsOf[j] = v.channels;
          } catch (const CorruptImage&) {
            if (!dataset.skipCorrupt) throw;
          }
          scratch.trim();
        },
        ctx, start, n);
    for (int64_t j = 0; j < m; ++j) {
      if (channelsOf[j] == 0) continue;
      if (channels < 0) channels = channelsOf[j];
      TORCH_CHECK(channelsOf[j] == channels, "pack: ", dataset.describe(start + j), " has ", channelsOf[j], " channels, others ", channels);
      f.write(pixels.get() + j * slotBytes, static_cast<size_t>(height * width * channels));
      labels.push_back(dataset.label(start + j));
    }
  }
  const int64_t kept = static_cast<int64_t>(labels.size());
  TORCH_CHECK(kept > 0, "pack: every image was corrupt and skipped");
  const int64_t labelsAt = (imagesAt - 8 * kept) / kAlign * kAlign;
  std::string header = headerFor(kept, channels);
  header.append(static_cast<size_t>(labelsAt - 16) - header.size(), ' ');
  const uint64_t length = header.size();
  f.writeAt(0, kMagic, 8);
  f.writeAt(8, &length, 8);
  f.writeAt(16, header.data(), header.size());
  f.writeAt(static_cast<uint64_t>(labelsAt), labels.data(), labels.size() * 8);
  f.commit();
  return n - kept;
}

}  // namespace skipnorm::data
