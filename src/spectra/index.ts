/** Spectra and diagnostics: the later-layer Jacobian spectrum and layer-wise weight spectra curvature and regularity. */
export { jacobianSpectrum, layerwiseJacobianSpectra, resolveCut, type JacobianSpectrum, type JacobianSpectrumOptions, type LayerwiseSpectrum } from './jacobian';
export { weightSpectra, type WeightSpectraOptions, type WeightSpectrumMethod, type LayerWeightSpectrum } from './weights';
export { diagnostics, type Diagnostics, type DiagnosticsOptions } from './diagnostics';
