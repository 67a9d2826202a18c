/** Spectra and diagnostics: the later-layer Jacobian spectrum and layer-wise weight spectra curvature and regularity. */
export { jacobianSpectrum, layerwiseJacobianSpectra, type JacobianSpectrum, type JacobianSpectrumOptions, type LayerwiseSpectraOptions, type LayerwiseSpectrum } from './jacobian';
export { cutPoints, resolveCut, type CutPointsOptions } from './cuts';
export { weightSpectra, type WeightSpectraOptions, type WeightSpectrumMethod, type LayerWeightSpectrum } from './weights';
export { diagnostics, type Diagnostics, type DiagnosticsOptions } from './diagnostics';
