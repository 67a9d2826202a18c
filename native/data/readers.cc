// Readers for the formats users have: MNIST idx files (plain or gzip), CIFAR-10/100 binary
// batches, image folders. Every length, magic number and label is checked before use: a bad
// file is a clear error naming it, never a crash or a silently short dataset.
#include <c10/util/Exception.h>
#include <zlib.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

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

SubsetDataset::SubsetDataset(std::shared_ptr<Dataset> parent, std::vector<int64_t> indices) : parent_(std::move(parent)), indices_(std::move(indices)) {
  for (int64_t i : indices_) TORCH_CHECK(i >= 0 && i < parent_->size(), "subset: index ", i, " is out of range for a dataset of ", parent_->size());
  format = parent_->format;
  classes = parent_->classes;
  classNames = parent_->classNames;
  skipCorrupt = parent_->skipCorrupt;
}

namespace {

// The whole file, decompressed when it is gzip (zlib reads plain files through unchanged).
std::vector<uint8_t> readMaybeGzip(const fs::path& path) {
  gzFile f = gzopen(path.c_str(), "rb");
  TORCH_CHECK(f, "cannot open ", path.string());
  std::vector<uint8_t> out;
  uint8_t buffer[1 << 16];
  int n;
  while ((n = gzread(f, buffer, sizeof(buffer))) > 0) {
    out.insert(out.end(), buffer, buffer + n);
    if (out.size() > (size_t{1} << 32)) break;
  }
  int code = 0;
  const char* message = n < 0 ? gzerror(f, &code) : nullptr;
  const std::string error = message ? message : "";
  gzclose(f);
  TORCH_CHECK(n >= 0, path.string(), ": corrupt gzip data (", error, ")");
  TORCH_CHECK(out.size() <= (size_t{1} << 32), path.string(), ": more than 4 GiB of data");
  return out;
}

uint32_t bigEndian32(const uint8_t* p) { return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]; }

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
  const auto images = readMaybeGzip(imagesPath);
  const auto labels = readMaybeGzip(labelsPath);
  TORCH_CHECK(images.size() >= 16 && bigEndian32(images.data()) == 0x803, imagesPath.string(), ": not an idx3 image file (magic number ",
              images.size() >= 4 ? bigEndian32(images.data()) : 0, ", expected 2051)");
  TORCH_CHECK(labels.size() >= 8 && bigEndian32(labels.data()) == 0x801, labelsPath.string(), ": not an idx1 label file (magic number ",
              labels.size() >= 4 ? bigEndian32(labels.data()) : 0, ", expected 2049)");
  const int64_t n = bigEndian32(images.data() + 4), h = bigEndian32(images.data() + 8), w = bigEndian32(images.data() + 12);
  const int64_t nLabels = bigEndian32(labels.data() + 4);
  TORCH_CHECK(h > 0 && w > 0 && h <= 4096 && w <= 4096, imagesPath.string(), ": implausible image size ", h, " x ", w);
  TORCH_CHECK(static_cast<int64_t>(images.size()) == 16 + n * h * w, imagesPath.string(), ": holds ", images.size() - 16, " bytes of pixels, the header says ",
              n, " images of ", h, " x ", w, " (", n * h * w, " bytes)");
  TORCH_CHECK(static_cast<int64_t>(labels.size()) == 8 + nLabels, labelsPath.string(), ": holds ", labels.size() - 8, " labels, the header says ", nLabels);
  TORCH_CHECK(n == nLabels, "MNIST: ", n, " images but ", nLabels, " labels");
  at::Tensor x = at::empty({n, h, w, 1}, at::kByte);
  std::memcpy(x.data_ptr<uint8_t>(), images.data() + 16, n * h * w);
  at::Tensor y = at::empty({n}, at::kLong);
  int64_t* py = y.data_ptr<int64_t>();
  for (int64_t i = 0; i < n; ++i) {
    TORCH_CHECK(labels[8 + i] < 10, labelsPath.string(), ": label ", int{labels[8 + i]}, " of example ", i, " is out of range 0..9");
    py[i] = labels[8 + i];
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
  at::Tensor image(int64_t index, const CropPlan& plan) const override {
    std::ifstream in(files[index], std::ios::binary | std::ios::ate);
    if (!in) throw CorruptImage("cannot open " + files[index]);
    const std::streamsize size = in.tellg();
    if (size <= 0) throw CorruptImage(files[index] + " is empty");
    std::vector<uint8_t> bytes(static_cast<size_t>(size));
    in.seekg(0);
    if (!in.read(reinterpret_cast<char*>(bytes.data()), size)) throw CorruptImage("cannot read " + files[index]);
    try {
      return decodeImage(bytes.data(), bytes.size(), plan);
    } catch (const CorruptImage& e) {
      throw CorruptImage(files[index] + ": " + e.what());
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
