/**
 * The config file (interface §3): what CPU, which VMCS controls, bitmaps, EPT and guest-paging shape, TLB sizes and
 * costs. Decoded at the boundary with io-ts; unknown keys are errors. `resolveConfig` fills the documented defaults
 * (a KVM-like hypervisor on a Skylake-server-class CPU; README "Defaults" lists each choice and its KVM source).
 */
import * as t from 'io-ts';
import { isLeft } from 'fp-ts/Either';
import type { Either } from 'fp-ts/Either';
import { left, right } from 'fp-ts/Either';
import { U64, intIn, oneOf, rangeCodec, strict, uintCodec } from '../arch/codecs';
import { firstFailure, type DecodeFailure } from '../arch/codecReport';

export const CONTROL_KINDS = ['pin', 'primary', 'secondary', 'tertiary', 'exit', 'entry'] as const;
export type ControlKind = (typeof CONTROL_KINDS)[number];
export type Mode = 'native' | 'ept' | 'shadow';
export type PageSize = '4K' | '2M' | '1G';

const Names = t.array(t.string, 'a list of control names (strings)');
const ControlsC = strict({ pin: Names, primary: Names, secondary: Names, tertiary: Names, exit: Names, entry: Names }, 'controls');
const MsrList = t.array(uintCodec(32, 'an MSR index as a hex or decimal string'), 'a list of MSR indexes');
const PortRange = rangeCodec(16, 'a port or port range like "0x3f8-0x3ff"');
const GpaRange = rangeCodec(52, 'a guest-physical range like "0xfee00000-0xfee00fff"');
const PageSizeC = oneOf<PageSize>(['4K', '2M', '1G']);

export const ConfigC = strict({
  cpu: t.string,
  mode: oneOf<Mode>(['native', 'ept', 'shadow']),
  controls: ControlsC,
  vmcs: t.record(t.string, U64, 'an object of VMCS field writes ("0x2010" or TSC_OFFSET: value)'),
  msrBitmap: strict({ readExit: MsrList, writeExit: MsrList }, 'msrBitmap'),
  ioBitmap: strict({ exitPorts: t.array(PortRange, 'a list of ports or port ranges') }, 'ioBitmap'),
  mmio: t.array(GpaRange, 'a list of guest-physical ranges'),
  ept: strict({
    levels: intIn(4, 5, '4 or 5'),
    pageSize: PageSizeC,
    accessedDirty: t.boolean,
    backing: oneOf(['demand', 'prefault', 'identity'] as const),
    pml: t.boolean,
  }, 'ept'),
  guest: strict({
    levels: intIn(4, 5, '4 or 5'),
    pageSize: PageSizeC,
    policy: oneOf(['demand'] as const),
    memoryMiB: intIn(1, 1 << 22, 'a memory size in MiB from 1 to 4194304'),
  }, 'guest'),
  tlb: t.record(t.string, t.unknown, 'an object of TLB sizes'),
  cost: t.record(t.string, t.unknown, 'an object of cycle costs'),
}, 'config');

export type RawConfig = t.TypeOf<typeof ConfigC>;

export interface Config {
  readonly cpu: string;
  readonly mode: Mode;
  /** explicit control lists by field; a kind absent here takes the mode's default list */
  readonly controls: Partial<Record<ControlKind, readonly string[]>>;
  /** raw VMCS writes, applied last, in file order: key is "0x2010" or a Linux vmcs_field name */
  readonly vmcs: readonly (readonly [string, bigint])[];
  /** when given, exactly the MSRs whose read / write bitmap bits are 1 */
  readonly msrBitmap: { readonly readExit?: readonly bigint[]; readonly writeExit?: readonly bigint[] };
  /** when given, exactly the ports whose I/O bitmap bits are 1 */
  readonly ioBitmap: { readonly exitPorts?: readonly (readonly [bigint, bigint])[] };
  readonly mmio: readonly (readonly [bigint, bigint])[];
  readonly ept: { readonly levels: 4 | 5; readonly pageSize: PageSize; readonly accessedDirty: boolean; readonly backing: 'demand' | 'prefault' | 'identity'; readonly pml: boolean };
  readonly guest: { readonly levels: 4 | 5; readonly pageSize: PageSize; readonly policy: 'demand'; readonly memoryMiB: number };
  readonly tlb: Readonly<Record<string, unknown>>;
  readonly cost: Readonly<Record<string, unknown>>;
}

/**
 * MMIO at the local APIC, I/O APIC and HPET pages, as a PC guest has them (KVM emulates all three in the kernel and
 * the guest reaches them through EPT misconfigurations after the first fault).
 */
export const DEFAULT_MMIO: readonly (readonly [bigint, bigint])[] = [
  [0xfee00000n, 0xfee00fffn], // local APIC (IA32_APIC_BASE default)
  [0xfec00000n, 0xfec00fffn], // I/O APIC
  [0xfed00000n, 0xfed003ffn], // HPET
];

export const DEFAULT_CONFIG: Config = {
  cpu: 'skylake-server',
  mode: 'ept',
  controls: {},
  vmcs: [],
  msrBitmap: {},
  ioBitmap: {},
  mmio: DEFAULT_MMIO,
  ept: { levels: 4, pageSize: '4K', accessedDirty: true, backing: 'demand', pml: false },
  guest: { levels: 4, pageSize: '4K', policy: 'demand', memoryMiB: 1024 },
  tlb: {},
  cost: {},
};

/** Decodes a parsed JSON config and fills the defaults. The failure's path starts with `root`. */
export const decodeConfig = (u: unknown, root = ''): Either<DecodeFailure, Config> => {
  const r = ConfigC.decode(u);
  if (isLeft(r)) return left(firstFailure(r.left, root));
  const c = r.right;
  const d = DEFAULT_CONFIG;
  return right({
    cpu: c.cpu ?? d.cpu,
    mode: c.mode ?? d.mode,
    controls: c.controls ?? {},
    vmcs: Object.entries(c.vmcs ?? {}),
    msrBitmap: c.msrBitmap ?? {},
    ioBitmap: c.ioBitmap ?? {},
    mmio: c.mmio ?? d.mmio,
    ept: { ...d.ept, ...(c.ept ?? {}) } as Config['ept'],
    guest: { ...d.guest, ...(c.guest ?? {}) } as Config['guest'],
    tlb: c.tlb ?? {},
    cost: c.cost ?? {},
  });
};
