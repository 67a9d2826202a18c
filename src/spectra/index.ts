/** Spectra and diagnostics: the later-layer Jacobian spectrum (more to come: weight spectra, curvature, regularity). */
export { jacobianSpectrum, resolveCut, type JacobianSpectrum, type JacobianSpectrumOptions } from './jacobian';
