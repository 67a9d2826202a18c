/** The model zoo: the paper's networks and the standard ResNets, by name and options. */
import { Module } from '../nn/module';
import { rememberZooSpec } from '../io/model_file';
import { bnnet, type BNNetVariant } from './bnnet';
import { preactResNet, type InputKind, type PreActShortcut } from './preact-resnet';
import { resnet } from './resnet';

export { bnnet, BNNET_SHORTCUTS, type BNNetVariant } from './bnnet';
export { preactResNet, RESNET_DEPTHS, type PreActResNetOptions, type PreActShortcut, type InputKind } from './preact-resnet';
export { resnet, type ResNetOptions } from './resnet';

export type ModelSpec =
  | { model: 'bnnet'; variant?: BNNetVariant }
  | { model: 'preact-resnet'; depth?: 18 | 34 | 50 | 101 | 152; shortcut?: PreActShortcut; classes?: number; input?: InputKind }
  | { model: 'resnet'; depth?: 18 | 34 | 50 | 101 | 152; classes?: number; skip?: boolean };

/** Builds a zoo model from a spec (what the CLI's model flags describe). */
export function buildModel(spec: ModelSpec): Module {
  const model = buildZooModel(spec);
  rememberZooSpec(model, spec);
  return model;
}

function buildZooModel(spec: ModelSpec): Module {
  switch (spec.model) {
    case 'bnnet':
      return bnnet({ variant: spec.variant });
    case 'preact-resnet':
      return preactResNet(spec);
    case 'resnet':
      return resnet(spec);
    default:
      throw new TypeError(`buildModel: unknown model ${JSON.stringify((spec as { model: unknown }).model)}; expected bnnet, preact-resnet or resnet`);
  }
}
