/** torch.nn's counterparts: modules, layers, initialisation and functions. */
import * as functional from './functional';
import * as init from './init';

export { Module, type LoadResult, type ModuleInfo, type StateDict } from './module';
export * from './layers';
export { ModuleList, ModuleDict } from './holders';
export { parameter, buffer, forwardNative, type GraphSpec, type GraphNode, type GraphArg, type InputSignature } from './graph';
export { functional, init };
