/** PNG copies of the SVG figures, rendered by resvg (a Rust SVG renderer shipped as an npm package) with the system's fonts. */
import { Resvg } from '@resvg/resvg-js';

export function svgToPng(svg: string, scale = 2): Buffer {
  const r = new Resvg(svg, { fitTo: { mode: 'zoom', value: scale }, font: { loadSystemFonts: true, defaultFontFamily: 'DejaVu Sans' }, background: 'white' });
  return r.render().asPng();
}
