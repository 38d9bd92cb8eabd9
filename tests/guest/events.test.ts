import { GUEST_OPS, access, isMemoryAccess } from '../../src/guest/events';
import { FIELDS } from '../../src/guest/traceCodec';
import { gva } from '../../src/arch/addr';

describe('guest events (interface §2)', () => {
  test('every op of the interface §2 table is known, once', () => {
    // the interface §2 table, read by hand
    const table = ['read', 'write', 'fetch', 'cpuid', 'rdtsc', 'rdtscp', 'rdpid', 'rdpmc', 'rdmsr', 'wrmsr', 'in', 'out',
      'mov_to_cr', 'mov_from_cr', 'clts', 'lmsw', 'invlpg', 'hlt', 'pause', 'mwait', 'monitor', 'wbinvd', 'invd',
      'xsetbv', 'rdrand', 'rdseed', 'vmcall', 'exception', 'interrupt', 'nmi', 'run', 'guest_map', 'guest_unmap'];
    expect([...GUEST_OPS].sort()).toEqual([...table].sort());
    expect(Object.keys(FIELDS).sort()).toEqual([...table].sort());
  });

  test('fields of each op are those of interface §2', () => {
    expect(Object.keys(FIELDS.read)).toEqual(['gva', 'size', 'user']);
    expect(Object.keys(FIELDS.in)).toEqual(['port', 'size', 'string', 'rep']);
    expect(Object.keys(FIELDS.guest_map)).toEqual(['gva', 'gpa', 'size', 'flags']);
    expect(Object.keys(FIELDS.exception)).toEqual(['vector', 'errorCode']);
    expect(Object.keys(FIELDS.rdtsc)).toEqual([]);
  });

  test('access() applies the defaults size 1, user true', () => {
    expect(access('read', gva(0x10))).toEqual({ op: 'read', gva: 0x10, size: 1, user: true });
    expect(isMemoryAccess(access('fetch', gva(0)))).toBe(true);
    expect(isMemoryAccess({ op: 'hlt' })).toBe(false);
  });
});
