// Builds a guest (page tables by guest-physical writes) and an EPT in one host memory, for the walk tests.
// Guest memory lives at HPA = GPA + OFF, so a walk that skipped EPT would read the wrong place.
import * as Phys from '../../src/arch/phys';
import { gpa as mkGpa, hpa as mkHpa } from '../../src/arch/addr';
import * as EptBuild from '../../src/ept/build';
import * as GuestBuild from '../../src/guest/build';
import { EptContext } from '../../src/ept/walk';
import { GuestPagingConfig } from '../../src/guest/paging';

export const OFF = 0x4000_0000;
export const EPT_ROOT = 0x10_0000;
export const GUEST_ROOT = 0x100_0000;

export interface World {
  mem: Phys.PhysMem;
  eptAlloc: EptBuild.FrameAlloc;
  guestAlloc: GuestBuild.GuestFrameAlloc;
  guestPages: number[];
}

// The guest's own writes go straight to host memory at GPA + OFF (the test maps EPT afterwards).
export const io: GuestBuild.GuestPhysIo<Phys.PhysMem> = {
  read: (m, g) => ({ lo: Phys.read64Lo(m, g + OFF), hi: Phys.read64Hi(m, g + OFF) }),
  write: (m, g, lo, hi) => Phys.write64Parts(m, g + OFF, lo, hi),
};

export const newWorld = (): World => ({ mem: Phys.empty, eptAlloc: { next: EPT_ROOT + 0x1000 }, guestAlloc: { next: GUEST_ROOT + 0x1000 }, guestPages: [GUEST_ROOT] });

export const guestMap = (w: World, levels: 4 | 5, gva: number, gpa: number, size: GuestBuild.GuestPageSize, flags: GuestBuild.GuestFlags): World => {
  const r = GuestBuild.guestMap(io, w.mem, w.guestAlloc, GUEST_ROOT, levels, gva, gpa, size, flags);
  return { ...w, mem: r.state, guestAlloc: r.alloc, guestPages: [...w.guestPages, ...r.newTables] };
};

/** EPT-maps every guest table page and `dataGpa` (at GPA + OFF) with pages of `size`. */
export const eptMapAll = (w: World, levels: 4 | 5, size: EptBuild.EptPageSize, dataGpas: number[], perm = { r: true, w: true, x: true, ux: true }): World => {
  let s = { mem: w.mem, alloc: w.eptAlloc };
  for (const g of [...w.guestPages, ...dataGpas]) s = EptBuild.eptMap(s.mem, s.alloc, EPT_ROOT, levels, g, g + OFF, size, perm);
  return { ...w, mem: s.mem, eptAlloc: s.alloc };
};

export const eptCtx = (levels: 4 | 5, extra: Partial<EptContext> = {}): EptContext => ({
  root: mkHpa(EPT_ROOT), levels, ad: false, mbec: false, executeOnly: true, pages1G: true, maxPhyAddr: 46, ...extra,
});

export const guestCfg = (la57: boolean, extra: Partial<GuestPagingConfig> = {}): GuestPagingConfig => ({
  cr3: mkGpa(GUEST_ROOT), la57, nxe: true, wp: true, maxPhyAddr: 46, ...extra,
});

export const RWXU = { writable: true, user: true, executable: true };
