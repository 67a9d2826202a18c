// Readers for the formats users have: MNIST idx files (plain or gzip), CIFAR-10/100 binary
// batches, image folders. Every length, magic number and label is checked before use: a bad
// file is a clear error naming it, never a crash or a silently short dataset.
#include <c10/util/Exception.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>

#include "data/dataset.h"

namespace skipnorm::data {

namespace fs = std::filesystem;

TensorDataset::TensorDataset(at::Tensor images, at::Tensor labels, int64_t classes_, std::string format_) {
  TORCH_CHECK(images.dim() == 4 && images.scalar_type() == at::kByte, "images must be uint8 [N, H, W, C], got ", images.scalar_type(), " ", images.sizes());
  TORCH_CHECK(images.size(3) == 1 || images.size(3) == 3, "images must have 1 or 3 channels (last dimension), got ", images.size(3));
  TORCH_CHECK(labels.dim() == 1 && labels.size(0) == images.size(0), "labels must be [N] with N = ", images.size(0), " images, got ", labels.sizes());
  TORCH_CHECK(!at::isFloatingType(labels.scalar_type()) && labels.scalar_type() != at::kBool, "labels must be integers, got ", labels.scalar_type());
  images_ = images.cpu().contiguous();
  labelTensor_ = labels.cpu().to(at::kLong).contiguous();
  labels_ = labelTensor_.data_ptr<int64_t>();
  if (labelTensor_.numel() > 0) {
    const int64_t lo = labelTensor_.min().item<int64_t>(), hi = labelTensor_.max().item<int64_t>();
    TORCH_CHECK(lo >= 0, "labels must be non-negative, found ", lo);
    if (classes_ <= 0) classes_ = hi + 1;
    TORCH_CHECK(hi < classes_, "label ", hi, " is out of range for ", classes_, " classes");
  }
  classes = classes_;
  format = std::move(format_);
}

ImageView TensorDataset::pixels(int64_t index, const CropPlan& plan, PixelBuffer&) const {
  const int64_t h = images_.size(1), w = images_.size(2), c = images_.size(3);
  return applyCrop(ImageView{images_.data_ptr<uint8_t>() + index * h * w * c, h, w, c, w * c}, plan);
}

SubsetDataset::SubsetDataset(std::shared_ptr<Dataset> parent, std::vector<int64_t> indices) : parent_(std::move(parent)), indices_(std::move(indices)) {
  for (int64_t i : indices_) TORCH_CHECK(i >= 0 && i < parent_->size(), "subset: index ", i, " is out of range for a dataset of ", parent_->size());
  format = parent_->format;
  classes = parent_->classes;
  classNames = parent_->classNames;
  skipCorrupt = parent_->skipCorrupt;
}

namespace {

uint32_t bigEndian32(const uint8_t* p) { return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]; }

// An idx file (plain or gzip; zlib reads plain files through unchanged): the header is read
// first, then exactly the bytes it declares, so a small file whose header declares little never
// inflates, and memory follows what the file really holds rather than what it claims.
struct IdxFile {
  std::vector<int64_t> dims;
  std::vector<uint8_t> data;
};

IdxFile readIdx(const fs::path& path, uint32_t magic, size_t dimCount, const char* kind) {
  gzFile f = gzopen(path.c_str(), "rb");
  TORCH_CHECK(f, "cannot open ", path.string());
  std::unique_ptr<gzFile_s, int (*)(gzFile)> closer(f, gzclose);
  auto read = [&](uint8_t* into, size_t n) -> size_t {
    size_t done = 0;
    while (done < n) {
      const int got = gzread(f, into + done, static_cast<unsigned>(std::min<size_t>(n - done, 1 << 20)));
      if (got < 0) {
        int code = 0;
        TORCH_CHECK(false, path.string(), ": corrupt gzip data (", gzerror(f, &code), ")");
      }
      if (got == 0) break;
      done += static_cast<size_t>(got);
    }
    return done;
  };
  const size_t headerBytes = 4 + 4 * dimCount;
  uint8_t header[16];
  const size_t got = read(header, headerBytes);
  TORCH_CHECK(got >= 4 && bigEndian32(header) == magic, path.string(), ": not an ", kind, " file (magic number ", got >= 4 ? bigEndian32(header) : 0,
              ", expected ", magic, ")");
  TORCH_CHECK(got == headerBytes, path.string(), ": the ", kind, " header is cut short (", got, " of ", headerBytes, " bytes)");
  IdxFile out;
  int64_t declared = 1;
  for (size_t d = 0; d < dimCount; ++d) {
    const int64_t dim = bigEndian32(header + 4 + 4 * d);
    out.dims.push_back(dim);
    TORCH_CHECK(dim == 0 || declared <= (int64_t{1} << 32) / dim, path.string(), ": the header declares more than 4 GiB of data");
    declared *= dim;
  }
  // Grown as the data arrives, doubling (a header may claim more than the file holds), never past
  // what it declares: memory follows what is really there.
  while (static_cast<int64_t>(out.data.size()) < declared) {
    const size_t before = out.data.size();
    const size_t want = std::min<size_t>(std::max<size_t>(before, size_t{1} << 16), static_cast<size_t>(declared) - before);
    out.data.resize(before + want);
    const size_t n = read(out.data.data() + before, want);
    out.data.resize(before + n);
    if (n < want) break;
  }
  uint8_t extra;
  const bool more = read(&extra, 1) > 0;
  std::string dims;
  for (size_t d = 0; d < out.dims.size(); ++d) dims += (d ? " x " : "") + std::to_string(out.dims[d]);
  TORCH_CHECK(static_cast<int64_t>(out.data.size()) == declared && !more, path.string(), ": holds ", more ? "more than " : "", out.data.size(),
              " bytes of data, the header declares ", dims, " (", declared, " bytes)");
  return out;
}

// The first of the candidate names that exists in any of the folders.
fs::path findFile(const std::vector<fs::path>& folders, const std::vector<std::string>& names, const std::string& what) {
  for (const auto& folder : folders) {
    for (const auto& name : names) {
      if (fs::is_regular_file(folder / name)) return folder / name;
    }
  }
  std::string tried;
  for (const auto& name : names) tried += (tried.empty() ? "" : ", ") + name;
  TORCH_CHECK(false, "no ", what, " file (", tried, ") in ", folders.front().string());
}

void checkFolder(const std::string& root) {
  TORCH_CHECK(!root.empty(), "the data folder is empty string");
  TORCH_CHECK(fs::exists(root), "no such folder: ", root);
  TORCH_CHECK(fs::is_directory(root), root, " is not a folder");
}

}  // namespace

std::shared_ptr<Dataset> openMnist(const std::string& root, bool train) {
  checkFolder(root);
  const std::vector<fs::path> folders{root, fs::path(root) / "MNIST" / "raw", fs::path(root) / "raw"};
  const std::string prefix = train ? "train" : "t10k";
  const fs::path imagesPath = findFile(folders, {prefix + "-images-idx3-ubyte", prefix + "-images-idx3-ubyte.gz", prefix + "-images.idx3-ubyte"}, "MNIST images");
  const fs::path labelsPath = findFile(folders, {prefix + "-labels-idx1-ubyte", prefix + "-labels-idx1-ubyte.gz", prefix + "-labels.idx1-ubyte"}, "MNIST labels");
  const IdxFile images = readIdx(imagesPath, 0x803, 3, "idx3 image");
  const IdxFile labels = readIdx(labelsPath, 0x801, 1, "idx1 label");
  const int64_t n = images.dims[0], h = images.dims[1], w = images.dims[2];
  TORCH_CHECK(h > 0 && w > 0 && h <= 4096 && w <= 4096, imagesPath.string(), ": implausible image size ", h, " x ", w);
  TORCH_CHECK(n == labels.dims[0], "MNIST: ", n, " images but ", labels.dims[0], " labels");
  at::Tensor x = at::empty({n, h, w, 1}, at::kByte);
  std::memcpy(x.data_ptr<uint8_t>(), images.data.data(), n * h * w);
  at::Tensor y = at::empty({n}, at::kLong);
  int64_t* py = y.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(labels.data[i] < 10, labelsPath.string(), ": label ", int{labels.data[i]}, " of example ", i, " is out of range 0..9");
    py[i] = labels.data[i];
  }
  return std::make_shared<TensorDataset>(x, y, 10, "mnist");
}

namespace {

std::shared_ptr<Dataset> openCifar(const std::vector<fs::path>& files, int64_t labelBytes, int64_t labelOffset, int64_t classes, const std::string& format) {
  constexpr int64_t kPixels = 32 * 32 * 3;
  const int64_t record = labelBytes + kPixels;
  std::vector<std::vector<char>> contents;
  int64_t n = 0;
  for (const auto& file : files) {
    std::ifstream in(file, std::ios::binary);
    TORCH_CHECK(in, "cannot open ", file.string());
    std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    TORCH_CHECK(!bytes.empty() && bytes.size() % record == 0, file.string(), ": ", bytes.size(), " bytes is not a whole number of ", record,
                "-byte records (is it the binary version of ", format, "?)");
    n += static_cast<int64_t>(bytes.size()) / record;
    contents.push_back(std::move(bytes));
  }
  at::Tensor x = at::empty({n, 32, 32, 3}, at::kByte);
  at::Tensor y = at::empty({n}, at::kLong);
  uint8_t* px = x.data_ptr<uint8_t>();
  int64_t* py = y.data_ptr<int64_t>();
  int64_t i = 0;
  for (size_t f = 0; f < contents.size(); ++f) {
    const auto* bytes = reinterpret_cast<const uint8_t*>(contents[f].data());
    for (int64_t r = 0; r < static_cast<int64_t>(contents[f].size()) / record; ++r, ++i) {
      const uint8_t* rec = bytes + r * record;
      TORCH_CHECK(rec[labelOffset] < classes, files[f].string(), ": label ", int{rec[labelOffset]}, " of record ", r, " is out of range for ", classes, " classes");
      py[i] = rec[labelOffset];
      // Records hold planes (R, G, B) of 32 x 32: store [H, W, C].
      const uint8_t* planes = rec + labelBytes;
      uint8_t* dst = px + i * kPixels;
      for (int64_t p = 0; p < 1024; ++p) {
        dst[3 * p] = planes[p];
        dst[3 * p + 1] = planes[1024 + p];
        dst[3 * p + 2] = planes[2048 + p];
      }
    }
  }
  return std::make_shared<TensorDataset>(x, y, classes, format);
}

}  // namespace

std::shared_ptr<Dataset> openCifar10(const std::string& root, bool train) {
  checkFolder(root);
  const std::vector<fs::path> folders{fs::path(root), fs::path(root) / "cifar-10-batches-bin"};
  std::vector<fs::path> files;
  if (train) {
    for (int b = 1; b <= 5; ++b) files.push_back(findFile(folders, {"data_batch_" + std::to_string(b) + ".bin"}, "CIFAR-10 training batch"));
  } else {
    files.push_back(findFile(folders, {"test_batch.bin"}, "CIFAR-10 test batch"));
  }
  return openCifar(files, 1, 0, 10, "cifar10");
}

std::shared_ptr<Dataset> openCifar100(const std::string& root, bool train, bool coarse) {
  checkFolder(root);
  const std::vector<fs::path> folders{fs::path(root), fs::path(root) / "cifar-100-binary"};
  std::vector<fs::path> files{findFile(folders, {train ? "train.bin" : "test.bin"}, "CIFAR-100")};
  // Each record: coarse label, fine label, pixels.
  return openCifar(files, 2, coarse ? 0 : 1, coarse ? 20 : 100, "cifar100");
}

namespace {

bool isImageFile(const fs::path& p) {
  std::string ext = p.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return ext == ".jpg" || ext == ".jpeg" || ext == ".png";
}

class FolderDataset : public Dataset {
 public:
  std::vector<std::string> files;
  std::vector<int64_t> labels;

  int64_t size() const override { return static_cast<int64_t>(files.size()); }
  int64_t label(int64_t index) const override { return labels[index]; }
  std::string describe(int64_t index) const override { return files[index]; }
  ImageView pixels(int64_t index, const CropPlan& plan, PixelBuffer& buffer) const override {
    // The file's bytes in a buffer this thread keeps (a file is read whole, then decoded).
    thread_local std::vector<uint8_t> bytes;
    const std::string& file = files[index];
    const int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK);
    if (fd < 0) throw CorruptImage("cannot open " + file + ": " + std::strerror(errno));
    struct stat st {};
    const bool regular = ::fstat(fd, &st) == 0 && S_ISREG(st.st_mode);
    const int64_t size = regular ? st.st_size : 0;
    bool complete = size > 0;
    if (complete) {
      bytes.resize(static_cast<size_t>(size));
      for (int64_t done = 0; done < size;) {
        const ssize_t n = ::read(fd, bytes.data() + done, static_cast<size_t>(size - done));
        if (n <= 0) {
          complete = false;
          break;
        }
        done += n;
      }
    }
    ::close(fd);
    if (!regular) throw CorruptImage(file + " is not a regular file");
    if (size <= 0) throw CorruptImage(file + " is empty");
    if (!complete) throw CorruptImage("cannot read " + file);
    // A very large file's buffer is not kept for the life of the thread.
    struct Release {
      std::vector<uint8_t>& b;
      ~Release() {
        if (b.capacity() > PixelBuffer::kKeep) std::vector<uint8_t>().swap(b);
      }
    } release{bytes};
    try {
      return decodeImage(bytes.data(), bytes.size(), plan, buffer);
    } catch (const CorruptImage& e) {
      throw CorruptImage(file + ": " + e.what());
    }
  }
};

}  // namespace

std::shared_ptr<Dataset> openFolder(const std::string& root, bool skipCorrupt) {
  checkFolder(root);
  auto dataset = std::make_shared<FolderDataset>();
  dataset->format = "folder";
  dataset->skipCorrupt = skipCorrupt;
  std::vector<fs::path> classDirs;
  for (const auto& entry : fs::directory_iterator(root)) {
    if (entry.is_directory()) classDirs.push_back(entry.path());
  }
  std::sort(classDirs.begin(), classDirs.end());
  TORCH_CHECK(!classDirs.empty(), root, ": no class folders (an image folder holds one subfolder per class)");
  std::vector<std::string> empty;
  for (size_t c = 0; c < classDirs.size(); ++c) {
    std::vector<std::string> found;
    for (const auto& entry : fs::recursive_directory_iterator(classDirs[c], fs::directory_options::follow_directory_symlink)) {
      if (entry.is_regular_file() && isImageFile(entry.path())) found.push_back(entry.path().string());
    }
    std::sort(found.begin(), found.end());
    if (found.empty()) empty.push_back(classDirs[c].filename().string());
    for (auto& f : found) {
      dataset->files.push_back(std::move(f));
      dataset->labels.push_back(static_cast<int64_t>(c));
    }
    dataset->classNames.push_back(classDirs[c].filename().string());
  }
  if (!empty.empty()) {
    std::string list;
    for (size_t i = 0; i < empty.size() && i < 12; ++i) list += (i ? ", " : "") + empty[i];
    TORCH_CHECK(false, root, ": ", empty.size(), " class folder(s) hold no .jpg, .jpeg or .png file: ", list);
  }
  dataset->classes = static_cast<int64_t>(classDirs.size());
  return dataset;
}

}  // namespace skipnorm::data
