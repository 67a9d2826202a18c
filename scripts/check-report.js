'use strict';
// Renders a run's report.html in headless Chromium (Debian's chromium, driven by playwright-core)
// and checks that every image loaded and is not blank (its pixels are not all one colour); saves
// a full-page screenshot to look at. Usage: node scripts/check-report.js RUN_DIR/report.html [SHOT.png]
// Needs /usr/bin/chromium (apt-get install chromium) or CHROMIUM=path.

const fs = require('node:fs');
const http = require('node:http');
const path = require('node:path');
const { chromium } = require('playwright-core');

const TYPES = { '.html': 'text/html', '.svg': 'image/svg+xml', '.png': 'image/png' };

/**
 * Serves the files inside `dir` (nothing outside it, a sibling folder whose name starts the same
 * included) on 127.0.0.1 at a free port; a malformed request is a 400, never a crash.
 */
function serveFolder(dir) {
  const root = path.resolve(dir);
  const server = http.createServer((req, res) => {
    let file;
    try {
      file = path.join(root, decodeURIComponent(new URL(req.url, 'http://x').pathname));
    } catch {
      res.writeHead(400).end();
      return;
    }
    const inside = !path.relative(root, file).startsWith('..') && !path.isAbsolute(path.relative(root, file));
    if (!inside || !fs.existsSync(file) || !fs.statSync(file).isFile()) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { 'content-type': TYPES[path.extname(file)] ?? 'application/octet-stream' }).end(fs.readFileSync(file));
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function main() {
  const [report, shot = path.join(path.dirname(path.resolve(report ?? '.')), 'report-screenshot.png')] = process.argv.slice(2);
  if (!report || !fs.existsSync(report)) throw new Error('usage: node scripts/check-report.js RUN_DIR/report.html [SHOT.png]');
  const executablePath = process.env.CHROMIUM || '/usr/bin/chromium';
  if (!fs.existsSync(executablePath)) throw new Error(`no Chromium at ${executablePath}: apt-get install chromium, or set CHROMIUM`);
  const browser = await chromium.launch({
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  // Served over HTTP from the run folder: images from file:// URLs would taint the canvas.
  const server = await serveFolder(path.dirname(path.resolve(report)));
  try {
    const page = await browser.newPage({ viewport: { width: 1200, height: 900 } });
    await page.goto(`http://127.0.0.1:${server.address().port}/${path.basename(report)}`, { waitUntil: 'load' });
    const images = await page.evaluate(() =>
      Array.from(document.images).map((img) => {
        const canvas = document.createElement('canvas');
        canvas.width = img.naturalWidth;
        canvas.height = img.naturalHeight;
        let colours = 0;
        if (img.naturalWidth > 0) {
          const ctx = canvas.getContext('2d');
          ctx.drawImage(img, 0, 0);
          const data = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
          const seen = new Set();
          for (let i = 0; i < data.length && seen.size < 16; i += 4 * 7) seen.add(`${data[i]},${data[i + 1]},${data[i + 2]},${data[i + 3]}`);
          colours = seen.size;
        }
        return { src: img.getAttribute('src'), complete: img.complete, width: img.naturalWidth, height: img.naturalHeight, colours };
      }),
    );
    await page.screenshot({ path: shot, fullPage: true });
    let bad = 0;
    for (const img of images) {
      const ok = img.complete && img.width > 0 && img.colours > 2;
      if (!ok) bad++;
      console.log(`${ok ? 'ok  ' : 'BAD '} ${img.src} ${img.width}x${img.height}, ${img.colours}${img.colours >= 16 ? '+' : ''} colours`);
    }
    console.log(`${images.length} images, ${bad} not loaded or blank; screenshot: ${shot}`);
    if (images.length === 0 || bad > 0) process.exitCode = 1;
  } finally {
    await browser.close();
    server.close();
  }
}

if (require.main === module) {
  main().catch((e) => {
    console.error(e.message);
    process.exit(1);
  });
}

module.exports = { serveFolder };
