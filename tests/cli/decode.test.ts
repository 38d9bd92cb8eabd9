import { main } from '../../src/cli/main';
import { fakeIo } from '../helpers/fakeIo';

const G3 = 'qemu-system-x86-4242 [002] d..1. 1234.567890: kvm_exit: vcpu 0 reason EPT_VIOLATION rip 0xffffffff8104c3a6 info1 0x0000000000000181 info2 0x0000000000000000 intr_info 0x00000000 error_code 0x00000000';

describe('vtxsim decode (interface §1, §5)', () => {
  test('SDM "Exit Qualification for EPT Violations": --json of a G3 line, schemaVersion 1', async () => {
    const f = fakeIo();
    expect(await main(['decode', G3, '--json'], f.io)).toBe(0);
    const doc = JSON.parse(f.out());
    expect(doc).toMatchObject({ schemaVersion: 1, reason: 48, name: 'EPT_VIOLATION', qualification: '0x181', vcpu: 0, rip: '0xffffffff8104c3a6' });
    expect(doc.fields).toMatchObject({ read: true, write: false, readable: false, writable: false, executable: false, guestLinearAddressValid: true, finalTranslation: true });
  });

  test('SDM "Exit Qualification for EPT Violations": text table of a G1 line with info 582', async () => {
    const f = fakeIo();
    expect(await main(['decode', 'kvm_exit: reason EPT_VIOLATION rip 0xffffffff81030b26 info 582 0'], f.io)).toBe(0);
    expect(f.out()).toMatch(/reason\s+48 EPT_VIOLATION/);
    expect(f.out()).toMatch(/write\s+true/);
    expect(f.out()).toMatch(/writableLinear\s+true/);
    expect(f.out()).toMatch(/finalTranslation\s+true/);
  });

  test('SDM "Exit Qualification for I/O Instructions": --reason IO_INSTRUCTION --qualification 0x3f80008', async () => {
    const f = fakeIo();
    expect(await main(['decode', '--reason', 'EXIT_REASON_IO_INSTRUCTION', '--qualification', '0x3f80008', '--json'], f.io)).toBe(0);
    expect(JSON.parse(f.out()).fields).toEqual({ size: 1, direction: 'in', string: false, rep: false, immediate: false, port: 0x3f8 });
  });

  test('bad input exits 1 with a message; neither line nor --reason is a usage error (2)', async () => {
    const f = fakeIo();
    expect(await main(['decode', '--reason', 'NOPE'], f.io)).toBe(1);
    expect(f.err()).toMatch(/field reason/);
    expect(await main(['decode', 'kvm_exit: reason HLT'], fakeIo().io)).toBe(1);
    expect(await main(['decode'], fakeIo().io)).toBe(2);
  });
});
