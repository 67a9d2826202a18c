/** Spectra and diagnostics: the later-layer Jacobian spectrum (more to come: weight spectra, curvature, regularity). */
export { jacobianSpectrum, layerwiseJacobianSpectra, resolveCut, type JacobianSpectrum, type JacobianSpectrumOptions, type LayerwiseSpectrum } from './jacobian';
