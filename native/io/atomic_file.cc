#include "io/atomic_file.h"

#include <c10/util/Exception.h>
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <random>

namespace skipnorm::io {

AtomicFile::AtomicFile(const std::string& target, std::string op) : target_(target), op_(std::move(op)) {
  const size_t slash = target.find_last_of('/');
  dir_ = slash == std::string::npos ? "." : slash == 0 ? "/" : target.substr(0, slash);
  const std::string base = slash == std::string::npos ? target : target.substr(slash + 1);
  std::random_device rd;
  char random[16];
  std::snprintf(random, sizeof(random), "%06x%06x", rd() & 0xffffffu, rd() & 0xffffffu);
  temp_ = dir_ + "/." + base + "." + std::to_string(::getpid()) + "." + random + ".tmp";
  fd_ = ::open(temp_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
  TORCH_CHECK(fd_ >= 0, op_, ": cannot write ", target_, ": ", std::strerror(errno));
}

AtomicFile::~AtomicFile() {
  if (fd_ >= 0) ::close(fd_);
  if (!committed_) ::unlink(temp_.c_str());
}

void AtomicFile::write(const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::write(fd_, p, std::min<size_t>(n, size_t{1} << 30));  // Linux moves at most ~2 GiB per call
    if (w < 0 && errno == EINTR) continue;
    TORCH_CHECK(w > 0, op_, ": cannot write ", target_, ": ", std::strerror(errno));
    p += w;
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::writeAt(uint64_t offset, const void* data, size_t n) {
  const char* p = static_cast<const char*>(data);
  while (n > 0) {
    const ssize_t w = ::pwrite(fd_, p, std::min<size_t>(n, size_t{1} << 30), static_cast<off_t>(offset));
    if (w < 0 && errno == EINTR) continue;
    TORCH_CHECK(w > 0, op_, ": cannot write ", target_, ": ", std::strerror(errno));
    p += w;
    offset += static_cast<uint64_t>(w);
    n -= static_cast<size_t>(w);
  }
}

void AtomicFile::seek(uint64_t offset) {
  TORCH_CHECK(::lseek(fd_, static_cast<off_t>(offset), SEEK_SET) >= 0, op_, ": cannot write ", target_, ": ", std::strerror(errno));
}

void AtomicFile::commit() {
  TORCH_CHECK(::fsync(fd_) == 0, op_, ": cannot write ", target_, ": flushing failed: ", std::strerror(errno));
  ::close(fd_);
  fd_ = -1;
  TORCH_CHECK(::rename(temp_.c_str(), target_.c_str()) == 0, op_, ": cannot write ", target_, ": renaming failed: ", std::strerror(errno));
  committed_ = true;
  const int dir = ::open(dir_.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  if (dir >= 0) {  // some file systems cannot flush a folder; the rename itself is still atomic
    ::fsync(dir);
    ::close(dir);
  }
}

}  // namespace skipnorm::io
