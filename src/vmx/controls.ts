/**
 * VM-execution, VM-exit and VM-entry control bits by name.
 *
 * Models: SDM Vol. 3C "VM-Execution Control Fields" (tables "Definitions of Pin-Based VM-Execution Controls",
 * "Definitions of Primary Processor-Based VM-Execution Controls", "... Secondary ...", "... Tertiary ..."),
 * "Primary VM-Exit Controls" and "VM-Entry Controls". Names are the SDM's in kebab case ("hlt-exiting",
 * "enable-ept", "ia-32e-mode-guest"); they are the names the config file uses (interface §3).
 * Leaves out: the secondary VM-exit controls (field 0x2044) and the default1 bits, which have no names: they are
 * reserved bits that the capability MSRs report as allowed-0 = 1 (see `defaultOnes`).
 */

import * as E from 'fp-ts/Either';
import { defineLayout, Layout } from '../arch/layout';
import { allowedSettings, Caps, ControlKind } from './caps';

export type { ControlKind } from './caps';

export const PIN_BASED: Layout = defineLayout('Pin-based VM-execution controls',
  'SDM Vol. 3C table "Definitions of Pin-Based VM-Execution Controls"', 32, [
    { name: 'external-interrupt-exiting', lo: 0 },
    { name: 'nmi-exiting', lo: 3 },
    { name: 'virtual-nmis', lo: 5 },
    { name: 'activate-vmx-preemption-timer', lo: 6 },
    { name: 'process-posted-interrupts', lo: 7 },
  ]);

export const PRIMARY: Layout = defineLayout('Primary processor-based VM-execution controls',
  'SDM Vol. 3C table "Definitions of Primary Processor-Based VM-Execution Controls"', 32, [
    { name: 'interrupt-window-exiting', lo: 2 },
    { name: 'use-tsc-offsetting', lo: 3 },
    { name: 'hlt-exiting', lo: 7 },
    { name: 'invlpg-exiting', lo: 9 },
    { name: 'mwait-exiting', lo: 10 },
    { name: 'rdpmc-exiting', lo: 11 },
    { name: 'rdtsc-exiting', lo: 12 },
    { name: 'cr3-load-exiting', lo: 15 },
    { name: 'cr3-store-exiting', lo: 16 },
    { name: 'activate-tertiary-controls', lo: 17 },
    { name: 'cr8-load-exiting', lo: 19 },
    { name: 'cr8-store-exiting', lo: 20 },
    { name: 'use-tpr-shadow', lo: 21 },
    { name: 'nmi-window-exiting', lo: 22 },
    { name: 'mov-dr-exiting', lo: 23 },
    { name: 'unconditional-io-exiting', lo: 24 },
    { name: 'use-io-bitmaps', lo: 25 },
    { name: 'monitor-trap-flag', lo: 27 },
    { name: 'use-msr-bitmaps', lo: 28 },
    { name: 'monitor-exiting', lo: 29 },
    { name: 'pause-exiting', lo: 30 },
    { name: 'activate-secondary-controls', lo: 31 },
  ]);

export const SECONDARY: Layout = defineLayout('Secondary processor-based VM-execution controls',
  'SDM Vol. 3C table "Definitions of Secondary Processor-Based VM-Execution Controls"', 32, [
    { name: 'virtualize-apic-accesses', lo: 0 },
    { name: 'enable-ept', lo: 1 },
    { name: 'descriptor-table-exiting', lo: 2 },
    { name: 'enable-rdtscp', lo: 3 },
    { name: 'virtualize-x2apic-mode', lo: 4 },
    { name: 'enable-vpid', lo: 5 },
    { name: 'wbinvd-exiting', lo: 6 },
    { name: 'unrestricted-guest', lo: 7 },
    { name: 'apic-register-virtualization', lo: 8 },
    { name: 'virtual-interrupt-delivery', lo: 9 },
    { name: 'pause-loop-exiting', lo: 10 },
    { name: 'rdrand-exiting', lo: 11 },
    { name: 'enable-invpcid', lo: 12 },
    { name: 'enable-vm-functions', lo: 13 },
    { name: 'vmcs-shadowing', lo: 14 },
    { name: 'enable-encls-exiting', lo: 15 },
    { name: 'rdseed-exiting', lo: 16 },
    { name: 'enable-pml', lo: 17 },
    { name: 'ept-violation-ve', lo: 18 },
    { name: 'conceal-vmx-from-pt', lo: 19 },
    { name: 'enable-xsaves-xrstors', lo: 20 },
    { name: 'pasid-translation', lo: 21 },
    { name: 'mode-based-execute-control-for-ept', lo: 22 },
    { name: 'sub-page-write-permissions-for-ept', lo: 23 },
    { name: 'intel-pt-uses-guest-physical-addresses', lo: 24 },
    { name: 'use-tsc-scaling', lo: 25 },
    { name: 'enable-user-wait-and-pause', lo: 26 },
    { name: 'enable-pconfig', lo: 27 },
    { name: 'enable-enclv-exiting', lo: 28 },
    { name: 'vmm-bus-lock-detection', lo: 30 },
    { name: 'instruction-timeout', lo: 31 },
  ]);

export const TERTIARY: Layout = defineLayout('Tertiary processor-based VM-execution controls',
  'SDM Vol. 3C table "Definitions of Tertiary Processor-Based VM-Execution Controls"', 64, [
    { name: 'loadiwkey-exiting', lo: 0 },
    { name: 'enable-hlat', lo: 1 },
    { name: 'ept-paging-write-control', lo: 2 },
    { name: 'guest-paging-verification', lo: 3 },
    { name: 'ipi-virtualization', lo: 4 },
    { name: 'enable-msr-list-instructions', lo: 6 },
    { name: 'virtualize-ia32-spec-ctrl', lo: 7 },
  ]);

export const EXIT: Layout = defineLayout('Primary VM-exit controls',
  'SDM Vol. 3C table "Definitions of Primary VM-Exit Controls"', 32, [
    { name: 'save-debug-controls', lo: 2 },
    { name: 'host-address-space-size', lo: 9 },
    { name: 'load-ia32-perf-global-ctrl', lo: 12 },
    { name: 'acknowledge-interrupt-on-exit', lo: 15 },
    { name: 'save-ia32-pat', lo: 18 },
    { name: 'load-ia32-pat', lo: 19 },
    { name: 'save-ia32-efer', lo: 20 },
    { name: 'load-ia32-efer', lo: 21 },
    { name: 'save-vmx-preemption-timer-value', lo: 22 },
    { name: 'clear-ia32-bndcfgs', lo: 23 },
    { name: 'conceal-vmx-from-pt', lo: 24 },
    { name: 'clear-ia32-rtit-ctl', lo: 25 },
    { name: 'clear-ia32-lbr-ctl', lo: 26 },
    { name: 'clear-uinv', lo: 27 },
    { name: 'load-host-cet-state', lo: 28 },
    { name: 'load-host-ia32-pkrs', lo: 29 },
    { name: 'save-ia32-perf-global-ctl', lo: 30 },
    { name: 'activate-secondary-controls', lo: 31 },
  ]);

export const ENTRY: Layout = defineLayout('VM-entry controls', 'SDM Vol. 3C table "Definitions of VM-Entry Controls"', 32, [
  { name: 'load-debug-controls', lo: 2 },
  { name: 'ia-32e-mode-guest', lo: 9 },
  { name: 'entry-to-smm', lo: 10 },
  { name: 'deactivate-dual-monitor-treatment', lo: 11 },
  { name: 'load-ia32-perf-global-ctrl', lo: 13 },
  { name: 'load-ia32-pat', lo: 14 },
  { name: 'load-ia32-efer', lo: 15 },
  { name: 'load-ia32-bndcfgs', lo: 16 },
  { name: 'conceal-vmx-from-pt', lo: 17 },
  { name: 'load-ia32-rtit-ctl', lo: 18 },
  { name: 'load-uinv', lo: 19 },
  { name: 'load-guest-cet-state', lo: 20 },
  { name: 'load-guest-ia32-lbr-ctl', lo: 21 },
  { name: 'load-guest-ia32-pkrs', lo: 22 },
]);

export const CONTROL_KINDS: readonly ControlKind[] = ['pin', 'primary', 'secondary', 'tertiary', 'exit', 'entry'];

export const layoutOf = (kind: ControlKind): Layout => {
  switch (kind) {
    case 'pin': return PIN_BASED;
    case 'primary': return PRIMARY;
    case 'secondary': return SECONDARY;
    case 'tertiary': return TERTIARY;
    case 'exit': return EXIT;
    case 'entry': return ENTRY;
    default: {
      const never: never = kind;
      throw new Error(`unknown control kind ${String(never)}`);
    }
  }
};

/** The bit of a named control (as a mask), or undefined when the control field has no such control. */
export const controlBit = (kind: ControlKind, name: string): bigint | undefined => layoutOf(kind).byName[name]?.mask;

/** The bit of a named control as a mask, for tables built at module load (an unknown name throws). */
export const controlMask = (kind: ControlKind, name: string): bigint => {
  const b = controlBit(kind, name);
  if (b === undefined) throw new Error(`no ${kind} control named ${name}`);
  return b;
};

/** Is the named control set in `value`? (An unknown name is a programming error and throws.) */
export const isSet = (kind: ControlKind, value: bigint, name: string): boolean => {
  const b = controlBit(kind, name);
  if (b === undefined) throw new Error(`no ${kind} control named ${name}`);
  return (value & b) !== 0n;
};

export interface UnknownControl {
  readonly _tag: 'UnknownControl';
  readonly kind: ControlKind;
  readonly name: string;
  /** every control name of that kind, for the message */
  readonly known: readonly string[];
}

/** The control word with exactly the named bits set; Left names the first unknown control. */
export const controlValue = (kind: ControlKind, names: readonly string[]): E.Either<UnknownControl, bigint> => {
  let v = 0n;
  for (const name of names) {
    const b = controlBit(kind, name);
    if (b === undefined) {
      return E.left({ _tag: 'UnknownControl', kind, name, known: layoutOf(kind).fields.map((x) => x.name) });
    }
    v |= b;
  }
  return E.right(v);
};

/** Names of the set bits of `value`, low to high (bits without a name, e.g. default1 bits, are left out). */
export const controlNames = (kind: ControlKind, value: bigint): readonly string[] =>
  layoutOf(kind).fields.filter((x) => (value & x.mask) !== 0n).map((x) => x.name);

/**
 * The bits that must be 1 in a control word on this CPU: the allowed-0 settings (SDM Appendix A "Allowed settings"),
 * from the TRUE MSR when IA32_VMX_BASIC[55] = 1, so CR3-load/store exiting are not forced on.
 */
export const defaultOnes = (caps: Caps, kind: ControlKind): bigint => allowedSettings(caps, kind).allowed0;
