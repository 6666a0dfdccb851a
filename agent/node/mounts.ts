// The host's mounted filesystems that are disks a workload could use, from /proc/mounts (node facts at
// start, the metrics' disk figures each sample).

/** Filesystems that are not disks a workload could use (node facts, and the metrics' disk figures). */
export const PSEUDO_FS =
  /^(tmpfs|devtmpfs|overlay|squashfs|proc|sysfs|cgroup2?|nsfs|autofs|mqueue|debugfs|tracefs|securityfs|pstore|bpf|configfs|fusectl|hugetlbfs|binfmt_misc|devpts|rpc_pipefs|ramfs|fuse\..*)$/;

/** The disk mounts of /proc/mounts: one row per device, pseudo filesystems left out. */
export function parseMounts(text: string): Array<{ mount: string; device: string }> {
  const seen = new Set<string>();
  const out: Array<{ mount: string; device: string }> = [];
  for (const line of text.split('\n')) {
    const [device, rawMount, type] = line.split(' ');
    if (!device || !rawMount || !type || PSEUDO_FS.test(type)) continue;
    // /proc/mounts escapes spaces and such as octal (\040).
    const mount = rawMount.replace(/\\([0-7]{3})/g, (_, o: string) =>
      String.fromCharCode(Number.parseInt(o, 8)),
    );
    // One row per device (bind mounts of the same filesystem would repeat it).
    if (!mount.startsWith('/') || seen.has(device)) continue;
    seen.add(device);
    out.push({ mount, device });
  }
  return out;
}
