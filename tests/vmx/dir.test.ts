import * as Phys from '../../src/arch/phys';
import { presetByName } from '../../src/vmx/caps';
import { vmcsWrite, vmcsWriteAll, type VmcsFields } from '../../src/vmx/cpu';
import { validVmcs } from '../../src/vmx/defaultState';
import { EntryContext, firstEntryFailure, firstEntryFailureCached } from '../../src/vmx/entryChecks';
import { F } from '../../src/vmx/fields';
const SKL = presetByName('skylake-server')!;
const EPTP = 0x200000n | (3n << 3n) | 6n;
it('x', () => {
  const valid = validVmcs(SKL, { cr3: 0x1000n }, { eptp: EPTP, vpid: 1 });
  const ctxOf = (f: VmcsFields): EntryContext => ({ caps: SKL, fields: f, mem: Phys.empty, currentVmcs: 0x10000, vmxonPtr: 0x11000 });
  let f = vmcsWrite(valid, F.GUEST_RIP, 0xffff_fff8n);
  const show = (l: string) => { const a = firstEntryFailureCached(ctxOf(f)); const b = firstEntryFailure(ctxOf(f)); console.log(l, a?.id, b?.id); };
  show('start');
  f = vmcsWriteAll(f, [[F.VM_EXIT_REASON, 10n], [F.GUEST_RIP, 0x1_0000_0004n]]); show('emul');
  f = vmcsWrite(f, F.GUEST_CS_AR_BYTES, (f.get(F.GUEST_CS_AR_BYTES) ?? 0n) ^ (1n << 13n)); show('csl');
  for (let k = 1n; k <= 20n; k++) f = vmcsWrite(f, F.EXIT_QUALIFICATION, k);
  f = vmcsWrite(f, F.GUEST_RIP, 0xffff_fff8n); show('back');
});
