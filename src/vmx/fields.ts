/**
 * VMCS fields: every component the simulator supports, in one table grouped by width and area.
 *
 * Models: SDM Vol. 3D Appendix B "Field Encoding in VMCS" (B.1 16-bit fields, B.2 64-bit fields, B.3 32-bit fields,
 * B.4 natural-width fields) and Vol. 3C "Organization of VMCS Data" for the areas. Each row gives the full encoding
 * (access type 0), the width and area that the encoding's bits 14:13 and 11:10 imply (SDM "VMREAD, VMWRITE, and
 * Encodings of VMCS Fields"), the SDM name and the Linux `enum vmcs_field` name (arch/x86/include/asm/vmx.h).
 * A few SDM fields that Linux never names carry a Linux-style name and `linux: false` (EPTP_INDEX,
 * EXECUTIVE_VMCS_POINTER, GUEST_SMBASE, IO_RCX/RSI/RDI/RIP; GUEST_SMBASE follows kvm-unit-tests).
 * Leaves out: SGX/CET/PASID/HLAT/IPI-virtualization and secondary-exit-control fields (the model has none of those
 * features), and the "high" aliases (encoding | 1), which src/vmx/encoding.ts resolves onto the full field.
 */

export type Width = 16 | 32 | 64 | 'natural';
export type Area = 'control' | 'exit-info' | 'guest' | 'host';

export interface VmcsField {
  /** Linux `enum vmcs_field` name (or a Linux-style name when `linux` is false) */
  readonly name: string;
  /** full encoding (access type 0) */
  readonly encoding: number;
  readonly width: Width;
  readonly area: Area;
  /** the SDM's name of the field */
  readonly sdm: string;
  /** false when Linux has no enumerator for this field */
  readonly linux?: false;
}

const f = (name: string, encoding: number, width: Width, area: Area, sdm: string, linux?: false): VmcsField =>
  linux === false ? { name, encoding, width, area, sdm, linux } : { name, encoding, width, area, sdm };

/** The field table. Order and grouping follow SDM Appendix B (and Linux vmcs12.c / rust-x86 vmcs.rs). */
export const FIELDS: readonly VmcsField[] = [
  // --- B.1.1 16-bit control fields ---
  f('VIRTUAL_PROCESSOR_ID', 0x0000, 16, 'control', 'Virtual-processor identifier (VPID)'),
  f('POSTED_INTR_NV', 0x0002, 16, 'control', 'Posted-interrupt notification vector'),
  f('EPTP_INDEX', 0x0004, 16, 'control', 'EPTP index', false),
  // --- B.1.2 16-bit guest-state fields ---
  f('GUEST_ES_SELECTOR', 0x0800, 16, 'guest', 'Guest ES selector'),
  f('GUEST_CS_SELECTOR', 0x0802, 16, 'guest', 'Guest CS selector'),
  f('GUEST_SS_SELECTOR', 0x0804, 16, 'guest', 'Guest SS selector'),
  f('GUEST_DS_SELECTOR', 0x0806, 16, 'guest', 'Guest DS selector'),
  f('GUEST_FS_SELECTOR', 0x0808, 16, 'guest', 'Guest FS selector'),
  f('GUEST_GS_SELECTOR', 0x080a, 16, 'guest', 'Guest GS selector'),
  f('GUEST_LDTR_SELECTOR', 0x080c, 16, 'guest', 'Guest LDTR selector'),
  f('GUEST_TR_SELECTOR', 0x080e, 16, 'guest', 'Guest TR selector'),
  f('GUEST_INTR_STATUS', 0x0810, 16, 'guest', 'Guest interrupt status'),
  f('GUEST_PML_INDEX', 0x0812, 16, 'guest', 'PML index'),
  // --- B.1.3 16-bit host-state fields ---
  f('HOST_ES_SELECTOR', 0x0c00, 16, 'host', 'Host ES selector'),
  f('HOST_CS_SELECTOR', 0x0c02, 16, 'host', 'Host CS selector'),
  f('HOST_SS_SELECTOR', 0x0c04, 16, 'host', 'Host SS selector'),
  f('HOST_DS_SELECTOR', 0x0c06, 16, 'host', 'Host DS selector'),
  f('HOST_FS_SELECTOR', 0x0c08, 16, 'host', 'Host FS selector'),
  f('HOST_GS_SELECTOR', 0x0c0a, 16, 'host', 'Host GS selector'),
  f('HOST_TR_SELECTOR', 0x0c0c, 16, 'host', 'Host TR selector'),
  // --- B.2.1 64-bit control fields ---
  f('IO_BITMAP_A', 0x2000, 64, 'control', 'Address of I/O bitmap A'),
  f('IO_BITMAP_B', 0x2002, 64, 'control', 'Address of I/O bitmap B'),
  f('MSR_BITMAP', 0x2004, 64, 'control', 'Address of MSR bitmaps'),
  f('VM_EXIT_MSR_STORE_ADDR', 0x2006, 64, 'control', 'VM-exit MSR-store address'),
  f('VM_EXIT_MSR_LOAD_ADDR', 0x2008, 64, 'control', 'VM-exit MSR-load address'),
  f('VM_ENTRY_MSR_LOAD_ADDR', 0x200a, 64, 'control', 'VM-entry MSR-load address'),
  f('EXECUTIVE_VMCS_POINTER', 0x200c, 64, 'control', 'Executive-VMCS pointer', false),
  f('PML_ADDRESS', 0x200e, 64, 'control', 'PML address'),
  f('TSC_OFFSET', 0x2010, 64, 'control', 'TSC offset'),
  f('VIRTUAL_APIC_PAGE_ADDR', 0x2012, 64, 'control', 'Virtual-APIC address'),
  f('APIC_ACCESS_ADDR', 0x2014, 64, 'control', 'APIC-access address'),
  f('POSTED_INTR_DESC_ADDR', 0x2016, 64, 'control', 'Posted-interrupt descriptor address'),
  f('VM_FUNCTION_CONTROL', 0x2018, 64, 'control', 'VM-function controls'),
  f('EPT_POINTER', 0x201a, 64, 'control', 'EPT pointer (EPTP)'),
  f('EOI_EXIT_BITMAP0', 0x201c, 64, 'control', 'EOI-exit bitmap 0'),
  f('EOI_EXIT_BITMAP1', 0x201e, 64, 'control', 'EOI-exit bitmap 1'),
  f('EOI_EXIT_BITMAP2', 0x2020, 64, 'control', 'EOI-exit bitmap 2'),
  f('EOI_EXIT_BITMAP3', 0x2022, 64, 'control', 'EOI-exit bitmap 3'),
  f('EPTP_LIST_ADDRESS', 0x2024, 64, 'control', 'EPTP-list address'),
  f('VMREAD_BITMAP', 0x2026, 64, 'control', 'VMREAD-bitmap address'),
  f('VMWRITE_BITMAP', 0x2028, 64, 'control', 'VMWRITE-bitmap address'),
  f('VE_INFORMATION_ADDRESS', 0x202a, 64, 'control', 'Virtualization-exception information address'),
  f('XSS_EXIT_BITMAP', 0x202c, 64, 'control', 'XSS-exiting bitmap'),
  f('ENCLS_EXITING_BITMAP', 0x202e, 64, 'control', 'ENCLS-exiting bitmap'),
  f('TSC_MULTIPLIER', 0x2032, 64, 'control', 'TSC multiplier'),
  f('TERTIARY_VM_EXEC_CONTROL', 0x2034, 64, 'control', 'Tertiary processor-based VM-execution controls'),
  // --- B.2.2 64-bit read-only data fields ---
  f('GUEST_PHYSICAL_ADDRESS', 0x2400, 64, 'exit-info', 'Guest-physical address'),
  // --- B.2.3 64-bit guest-state fields ---
  f('VMCS_LINK_POINTER', 0x2800, 64, 'guest', 'VMCS link pointer'),
  f('GUEST_IA32_DEBUGCTL', 0x2802, 64, 'guest', 'Guest IA32_DEBUGCTL'),
  f('GUEST_IA32_PAT', 0x2804, 64, 'guest', 'Guest IA32_PAT'),
  f('GUEST_IA32_EFER', 0x2806, 64, 'guest', 'Guest IA32_EFER'),
  f('GUEST_IA32_PERF_GLOBAL_CTRL', 0x2808, 64, 'guest', 'Guest IA32_PERF_GLOBAL_CTRL'),
  f('GUEST_PDPTR0', 0x280a, 64, 'guest', 'Guest PDPTE0'),
  f('GUEST_PDPTR1', 0x280c, 64, 'guest', 'Guest PDPTE1'),
  f('GUEST_PDPTR2', 0x280e, 64, 'guest', 'Guest PDPTE2'),
  f('GUEST_PDPTR3', 0x2810, 64, 'guest', 'Guest PDPTE3'),
  f('GUEST_BNDCFGS', 0x2812, 64, 'guest', 'Guest IA32_BNDCFGS'),
  f('GUEST_IA32_RTIT_CTL', 0x2814, 64, 'guest', 'Guest IA32_RTIT_CTL'),
  // --- B.2.4 64-bit host-state fields ---
  f('HOST_IA32_PAT', 0x2c00, 64, 'host', 'Host IA32_PAT'),
  f('HOST_IA32_EFER', 0x2c02, 64, 'host', 'Host IA32_EFER'),
  f('HOST_IA32_PERF_GLOBAL_CTRL', 0x2c04, 64, 'host', 'Host IA32_PERF_GLOBAL_CTRL'),
  // --- B.3.1 32-bit control fields ---
  f('PIN_BASED_VM_EXEC_CONTROL', 0x4000, 32, 'control', 'Pin-based VM-execution controls'),
  f('CPU_BASED_VM_EXEC_CONTROL', 0x4002, 32, 'control', 'Primary processor-based VM-execution controls'),
  f('EXCEPTION_BITMAP', 0x4004, 32, 'control', 'Exception bitmap'),
  f('PAGE_FAULT_ERROR_CODE_MASK', 0x4006, 32, 'control', 'Page-fault error-code mask'),
  f('PAGE_FAULT_ERROR_CODE_MATCH', 0x4008, 32, 'control', 'Page-fault error-code match'),
  f('CR3_TARGET_COUNT', 0x400a, 32, 'control', 'CR3-target count'),
  f('VM_EXIT_CONTROLS', 0x400c, 32, 'control', 'Primary VM-exit controls'),
  f('VM_EXIT_MSR_STORE_COUNT', 0x400e, 32, 'control', 'VM-exit MSR-store count'),
  f('VM_EXIT_MSR_LOAD_COUNT', 0x4010, 32, 'control', 'VM-exit MSR-load count'),
  f('VM_ENTRY_CONTROLS', 0x4012, 32, 'control', 'VM-entry controls'),
  f('VM_ENTRY_MSR_LOAD_COUNT', 0x4014, 32, 'control', 'VM-entry MSR-load count'),
  f('VM_ENTRY_INTR_INFO_FIELD', 0x4016, 32, 'control', 'VM-entry interruption-information field'),
  f('VM_ENTRY_EXCEPTION_ERROR_CODE', 0x4018, 32, 'control', 'VM-entry exception error code'),
  f('VM_ENTRY_INSTRUCTION_LEN', 0x401a, 32, 'control', 'VM-entry instruction length'),
  f('TPR_THRESHOLD', 0x401c, 32, 'control', 'TPR threshold'),
  f('SECONDARY_VM_EXEC_CONTROL', 0x401e, 32, 'control', 'Secondary processor-based VM-execution controls'),
  f('PLE_GAP', 0x4020, 32, 'control', 'PLE_Gap'),
  f('PLE_WINDOW', 0x4022, 32, 'control', 'PLE_Window'),
  // --- B.3.2 32-bit read-only data fields ---
  f('VM_INSTRUCTION_ERROR', 0x4400, 32, 'exit-info', 'VM-instruction error'),
  f('VM_EXIT_REASON', 0x4402, 32, 'exit-info', 'Exit reason'),
  f('VM_EXIT_INTR_INFO', 0x4404, 32, 'exit-info', 'VM-exit interruption information'),
  f('VM_EXIT_INTR_ERROR_CODE', 0x4406, 32, 'exit-info', 'VM-exit interruption error code'),
  f('IDT_VECTORING_INFO_FIELD', 0x4408, 32, 'exit-info', 'IDT-vectoring information field'),
  f('IDT_VECTORING_ERROR_CODE', 0x440a, 32, 'exit-info', 'IDT-vectoring error code'),
  f('VM_EXIT_INSTRUCTION_LEN', 0x440c, 32, 'exit-info', 'VM-exit instruction length'),
  f('VMX_INSTRUCTION_INFO', 0x440e, 32, 'exit-info', 'VM-exit instruction information'),
  // --- B.3.3 32-bit guest-state fields ---
  f('GUEST_ES_LIMIT', 0x4800, 32, 'guest', 'Guest ES limit'),
  f('GUEST_CS_LIMIT', 0x4802, 32, 'guest', 'Guest CS limit'),
  f('GUEST_SS_LIMIT', 0x4804, 32, 'guest', 'Guest SS limit'),
  f('GUEST_DS_LIMIT', 0x4806, 32, 'guest', 'Guest DS limit'),
  f('GUEST_FS_LIMIT', 0x4808, 32, 'guest', 'Guest FS limit'),
  f('GUEST_GS_LIMIT', 0x480a, 32, 'guest', 'Guest GS limit'),
  f('GUEST_LDTR_LIMIT', 0x480c, 32, 'guest', 'Guest LDTR limit'),
  f('GUEST_TR_LIMIT', 0x480e, 32, 'guest', 'Guest TR limit'),
  f('GUEST_GDTR_LIMIT', 0x4810, 32, 'guest', 'Guest GDTR limit'),
  f('GUEST_IDTR_LIMIT', 0x4812, 32, 'guest', 'Guest IDTR limit'),
  f('GUEST_ES_AR_BYTES', 0x4814, 32, 'guest', 'Guest ES access rights'),
  f('GUEST_CS_AR_BYTES', 0x4816, 32, 'guest', 'Guest CS access rights'),
  f('GUEST_SS_AR_BYTES', 0x4818, 32, 'guest', 'Guest SS access rights'),
  f('GUEST_DS_AR_BYTES', 0x481a, 32, 'guest', 'Guest DS access rights'),
  f('GUEST_FS_AR_BYTES', 0x481c, 32, 'guest', 'Guest FS access rights'),
  f('GUEST_GS_AR_BYTES', 0x481e, 32, 'guest', 'Guest GS access rights'),
  f('GUEST_LDTR_AR_BYTES', 0x4820, 32, 'guest', 'Guest LDTR access rights'),
  f('GUEST_TR_AR_BYTES', 0x4822, 32, 'guest', 'Guest TR access rights'),
  f('GUEST_INTERRUPTIBILITY_INFO', 0x4824, 32, 'guest', 'Guest interruptibility state'),
  f('GUEST_ACTIVITY_STATE', 0x4826, 32, 'guest', 'Guest activity state'),
  f('GUEST_SMBASE', 0x4828, 32, 'guest', 'Guest SMBASE', false),
  f('GUEST_SYSENTER_CS', 0x482a, 32, 'guest', 'Guest IA32_SYSENTER_CS'),
  f('VMX_PREEMPTION_TIMER_VALUE', 0x482e, 32, 'guest', 'VMX-preemption timer value'),
  // --- B.3.4 32-bit host-state field ---
  f('HOST_IA32_SYSENTER_CS', 0x4c00, 32, 'host', 'Host IA32_SYSENTER_CS'),
  // --- B.4.1 natural-width control fields ---
  f('CR0_GUEST_HOST_MASK', 0x6000, 'natural', 'control', 'CR0 guest/host mask'),
  f('CR4_GUEST_HOST_MASK', 0x6002, 'natural', 'control', 'CR4 guest/host mask'),
  f('CR0_READ_SHADOW', 0x6004, 'natural', 'control', 'CR0 read shadow'),
  f('CR4_READ_SHADOW', 0x6006, 'natural', 'control', 'CR4 read shadow'),
  f('CR3_TARGET_VALUE0', 0x6008, 'natural', 'control', 'CR3-target value 0'),
  f('CR3_TARGET_VALUE1', 0x600a, 'natural', 'control', 'CR3-target value 1'),
  f('CR3_TARGET_VALUE2', 0x600c, 'natural', 'control', 'CR3-target value 2'),
  f('CR3_TARGET_VALUE3', 0x600e, 'natural', 'control', 'CR3-target value 3'),
  // --- B.4.2 natural-width read-only data fields ---
  f('EXIT_QUALIFICATION', 0x6400, 'natural', 'exit-info', 'Exit qualification'),
  f('IO_RCX', 0x6402, 'natural', 'exit-info', 'I/O RCX', false),
  f('IO_RSI', 0x6404, 'natural', 'exit-info', 'I/O RSI', false),
  f('IO_RDI', 0x6406, 'natural', 'exit-info', 'I/O RDI', false),
  f('IO_RIP', 0x6408, 'natural', 'exit-info', 'I/O RIP', false),
  f('GUEST_LINEAR_ADDRESS', 0x640a, 'natural', 'exit-info', 'Guest-linear address'),
  // --- B.4.3 natural-width guest-state fields ---
  f('GUEST_CR0', 0x6800, 'natural', 'guest', 'Guest CR0'),
  f('GUEST_CR3', 0x6802, 'natural', 'guest', 'Guest CR3'),
  f('GUEST_CR4', 0x6804, 'natural', 'guest', 'Guest CR4'),
  f('GUEST_ES_BASE', 0x6806, 'natural', 'guest', 'Guest ES base'),
  f('GUEST_CS_BASE', 0x6808, 'natural', 'guest', 'Guest CS base'),
  f('GUEST_SS_BASE', 0x680a, 'natural', 'guest', 'Guest SS base'),
  f('GUEST_DS_BASE', 0x680c, 'natural', 'guest', 'Guest DS base'),
  f('GUEST_FS_BASE', 0x680e, 'natural', 'guest', 'Guest FS base'),
  f('GUEST_GS_BASE', 0x6810, 'natural', 'guest', 'Guest GS base'),
  f('GUEST_LDTR_BASE', 0x6812, 'natural', 'guest', 'Guest LDTR base'),
  f('GUEST_TR_BASE', 0x6814, 'natural', 'guest', 'Guest TR base'),
  f('GUEST_GDTR_BASE', 0x6816, 'natural', 'guest', 'Guest GDTR base'),
  f('GUEST_IDTR_BASE', 0x6818, 'natural', 'guest', 'Guest IDTR base'),
  f('GUEST_DR7', 0x681a, 'natural', 'guest', 'Guest DR7'),
  f('GUEST_RSP', 0x681c, 'natural', 'guest', 'Guest RSP'),
  f('GUEST_RIP', 0x681e, 'natural', 'guest', 'Guest RIP'),
  f('GUEST_RFLAGS', 0x6820, 'natural', 'guest', 'Guest RFLAGS'),
  f('GUEST_PENDING_DBG_EXCEPTIONS', 0x6822, 'natural', 'guest', 'Guest pending debug exceptions'),
  f('GUEST_SYSENTER_ESP', 0x6824, 'natural', 'guest', 'Guest IA32_SYSENTER_ESP'),
  f('GUEST_SYSENTER_EIP', 0x6826, 'natural', 'guest', 'Guest IA32_SYSENTER_EIP'),
  // --- B.4.4 natural-width host-state fields ---
  f('HOST_CR0', 0x6c00, 'natural', 'host', 'Host CR0'),
  f('HOST_CR3', 0x6c02, 'natural', 'host', 'Host CR3'),
  f('HOST_CR4', 0x6c04, 'natural', 'host', 'Host CR4'),
  f('HOST_FS_BASE', 0x6c06, 'natural', 'host', 'Host FS base'),
  f('HOST_GS_BASE', 0x6c08, 'natural', 'host', 'Host GS base'),
  f('HOST_TR_BASE', 0x6c0a, 'natural', 'host', 'Host TR base'),
  f('HOST_GDTR_BASE', 0x6c0c, 'natural', 'host', 'Host GDTR base'),
  f('HOST_IDTR_BASE', 0x6c0e, 'natural', 'host', 'Host IDTR base'),
  f('HOST_IA32_SYSENTER_ESP', 0x6c10, 'natural', 'host', 'Host IA32_SYSENTER_ESP'),
  f('HOST_IA32_SYSENTER_EIP', 0x6c12, 'natural', 'host', 'Host IA32_SYSENTER_EIP'),
  f('HOST_RSP', 0x6c14, 'natural', 'host', 'Host RSP'),
  f('HOST_RIP', 0x6c16, 'natural', 'host', 'Host RIP'),
];

/** Field encodings by Linux name: `F.GUEST_CR0` = 0x6800. Kept literal so a misspelt name fails to compile. */
export const F = {
  VIRTUAL_PROCESSOR_ID: 0x0000, POSTED_INTR_NV: 0x0002, EPTP_INDEX: 0x0004,
  GUEST_ES_SELECTOR: 0x0800, GUEST_CS_SELECTOR: 0x0802, GUEST_SS_SELECTOR: 0x0804, GUEST_DS_SELECTOR: 0x0806,
  GUEST_FS_SELECTOR: 0x0808, GUEST_GS_SELECTOR: 0x080a, GUEST_LDTR_SELECTOR: 0x080c, GUEST_TR_SELECTOR: 0x080e,
  GUEST_INTR_STATUS: 0x0810, GUEST_PML_INDEX: 0x0812,
  HOST_ES_SELECTOR: 0x0c00, HOST_CS_SELECTOR: 0x0c02, HOST_SS_SELECTOR: 0x0c04, HOST_DS_SELECTOR: 0x0c06,
  HOST_FS_SELECTOR: 0x0c08, HOST_GS_SELECTOR: 0x0c0a, HOST_TR_SELECTOR: 0x0c0c,
  IO_BITMAP_A: 0x2000, IO_BITMAP_B: 0x2002, MSR_BITMAP: 0x2004, VM_EXIT_MSR_STORE_ADDR: 0x2006,
  VM_EXIT_MSR_LOAD_ADDR: 0x2008, VM_ENTRY_MSR_LOAD_ADDR: 0x200a, EXECUTIVE_VMCS_POINTER: 0x200c, PML_ADDRESS: 0x200e,
  TSC_OFFSET: 0x2010, VIRTUAL_APIC_PAGE_ADDR: 0x2012, APIC_ACCESS_ADDR: 0x2014, POSTED_INTR_DESC_ADDR: 0x2016,
  VM_FUNCTION_CONTROL: 0x2018, EPT_POINTER: 0x201a, EOI_EXIT_BITMAP0: 0x201c, EOI_EXIT_BITMAP1: 0x201e,
  EOI_EXIT_BITMAP2: 0x2020, EOI_EXIT_BITMAP3: 0x2022, EPTP_LIST_ADDRESS: 0x2024, VMREAD_BITMAP: 0x2026,
  VMWRITE_BITMAP: 0x2028, VE_INFORMATION_ADDRESS: 0x202a, XSS_EXIT_BITMAP: 0x202c, ENCLS_EXITING_BITMAP: 0x202e,
  TSC_MULTIPLIER: 0x2032, TERTIARY_VM_EXEC_CONTROL: 0x2034,
  GUEST_PHYSICAL_ADDRESS: 0x2400,
  VMCS_LINK_POINTER: 0x2800, GUEST_IA32_DEBUGCTL: 0x2802, GUEST_IA32_PAT: 0x2804, GUEST_IA32_EFER: 0x2806,
  GUEST_IA32_PERF_GLOBAL_CTRL: 0x2808, GUEST_PDPTR0: 0x280a, GUEST_PDPTR1: 0x280c, GUEST_PDPTR2: 0x280e,
  GUEST_PDPTR3: 0x2810, GUEST_BNDCFGS: 0x2812, GUEST_IA32_RTIT_CTL: 0x2814,
  HOST_IA32_PAT: 0x2c00, HOST_IA32_EFER: 0x2c02, HOST_IA32_PERF_GLOBAL_CTRL: 0x2c04,
  PIN_BASED_VM_EXEC_CONTROL: 0x4000, CPU_BASED_VM_EXEC_CONTROL: 0x4002, EXCEPTION_BITMAP: 0x4004,
  PAGE_FAULT_ERROR_CODE_MASK: 0x4006, PAGE_FAULT_ERROR_CODE_MATCH: 0x4008, CR3_TARGET_COUNT: 0x400a,
  VM_EXIT_CONTROLS: 0x400c, VM_EXIT_MSR_STORE_COUNT: 0x400e, VM_EXIT_MSR_LOAD_COUNT: 0x4010,
  VM_ENTRY_CONTROLS: 0x4012, VM_ENTRY_MSR_LOAD_COUNT: 0x4014, VM_ENTRY_INTR_INFO_FIELD: 0x4016,
  VM_ENTRY_EXCEPTION_ERROR_CODE: 0x4018, VM_ENTRY_INSTRUCTION_LEN: 0x401a, TPR_THRESHOLD: 0x401c,
  SECONDARY_VM_EXEC_CONTROL: 0x401e, PLE_GAP: 0x4020, PLE_WINDOW: 0x4022,
  VM_INSTRUCTION_ERROR: 0x4400, VM_EXIT_REASON: 0x4402, VM_EXIT_INTR_INFO: 0x4404, VM_EXIT_INTR_ERROR_CODE: 0x4406,
  IDT_VECTORING_INFO_FIELD: 0x4408, IDT_VECTORING_ERROR_CODE: 0x440a, VM_EXIT_INSTRUCTION_LEN: 0x440c,
  VMX_INSTRUCTION_INFO: 0x440e,
  GUEST_ES_LIMIT: 0x4800, GUEST_CS_LIMIT: 0x4802, GUEST_SS_LIMIT: 0x4804, GUEST_DS_LIMIT: 0x4806,
  GUEST_FS_LIMIT: 0x4808, GUEST_GS_LIMIT: 0x480a, GUEST_LDTR_LIMIT: 0x480c, GUEST_TR_LIMIT: 0x480e,
  GUEST_GDTR_LIMIT: 0x4810, GUEST_IDTR_LIMIT: 0x4812,
  GUEST_ES_AR_BYTES: 0x4814, GUEST_CS_AR_BYTES: 0x4816, GUEST_SS_AR_BYTES: 0x4818, GUEST_DS_AR_BYTES: 0x481a,
  GUEST_FS_AR_BYTES: 0x481c, GUEST_GS_AR_BYTES: 0x481e, GUEST_LDTR_AR_BYTES: 0x4820, GUEST_TR_AR_BYTES: 0x4822,
  GUEST_INTERRUPTIBILITY_INFO: 0x4824, GUEST_ACTIVITY_STATE: 0x4826, GUEST_SMBASE: 0x4828,
  GUEST_SYSENTER_CS: 0x482a, VMX_PREEMPTION_TIMER_VALUE: 0x482e,
  HOST_IA32_SYSENTER_CS: 0x4c00,
  CR0_GUEST_HOST_MASK: 0x6000, CR4_GUEST_HOST_MASK: 0x6002, CR0_READ_SHADOW: 0x6004, CR4_READ_SHADOW: 0x6006,
  CR3_TARGET_VALUE0: 0x6008, CR3_TARGET_VALUE1: 0x600a, CR3_TARGET_VALUE2: 0x600c, CR3_TARGET_VALUE3: 0x600e,
  EXIT_QUALIFICATION: 0x6400, IO_RCX: 0x6402, IO_RSI: 0x6404, IO_RDI: 0x6406, IO_RIP: 0x6408,
  GUEST_LINEAR_ADDRESS: 0x640a,
  GUEST_CR0: 0x6800, GUEST_CR3: 0x6802, GUEST_CR4: 0x6804,
  GUEST_ES_BASE: 0x6806, GUEST_CS_BASE: 0x6808, GUEST_SS_BASE: 0x680a, GUEST_DS_BASE: 0x680c,
  GUEST_FS_BASE: 0x680e, GUEST_GS_BASE: 0x6810, GUEST_LDTR_BASE: 0x6812, GUEST_TR_BASE: 0x6814,
  GUEST_GDTR_BASE: 0x6816, GUEST_IDTR_BASE: 0x6818,
  GUEST_DR7: 0x681a, GUEST_RSP: 0x681c, GUEST_RIP: 0x681e, GUEST_RFLAGS: 0x6820,
  GUEST_PENDING_DBG_EXCEPTIONS: 0x6822, GUEST_SYSENTER_ESP: 0x6824, GUEST_SYSENTER_EIP: 0x6826,
  HOST_CR0: 0x6c00, HOST_CR3: 0x6c02, HOST_CR4: 0x6c04, HOST_FS_BASE: 0x6c06, HOST_GS_BASE: 0x6c08,
  HOST_TR_BASE: 0x6c0a, HOST_GDTR_BASE: 0x6c0c, HOST_IDTR_BASE: 0x6c0e, HOST_IA32_SYSENTER_ESP: 0x6c10,
  HOST_IA32_SYSENTER_EIP: 0x6c12, HOST_RSP: 0x6c14, HOST_RIP: 0x6c16,
} as const;

export type FieldName = keyof typeof F;

const byEncoding = new Map<number, VmcsField>(FIELDS.map((x) => [x.encoding, x]));
const byName = new Map<string, VmcsField>(FIELDS.map((x) => [x.name, x]));

/** The field with this full encoding (access type 0), or undefined. High aliases are resolved in encoding.ts. */
export const fieldByEncoding = (enc: number): VmcsField | undefined => byEncoding.get(enc);

/** The field with this Linux `enum vmcs_field` name (case-sensitive), or undefined. */
export const fieldByName = (name: string): VmcsField | undefined => byName.get(name);

/** Width in bits; natural width is 64 on Intel 64 processors (SDM "VMREAD, VMWRITE, and Encodings of VMCS Fields"). */
export const widthBits = (field: VmcsField): 16 | 32 | 64 => (field.width === 'natural' ? 64 : field.width);

/** All ones in the field's width. */
export const widthMask = (field: VmcsField): bigint => (1n << BigInt(widthBits(field))) - 1n;
