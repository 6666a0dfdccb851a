// How `nokube get/describe` show CronJobs (kubectl's columns).
import type { CronJob, KubeObject } from '../../../agent/objects/types.ts';
import { age } from '../output.ts';
import { ageOf, type Columns, templateWide } from './columns.ts';
import type { Line } from './describe.ts';

export function cronJobColumns(wide: boolean): Columns {
  return {
    headers: [
      'NAME',
      'SCHEDULE',
      'TIMEZONE',
      'SUSPEND',
      'ACTIVE',
      'LAST SCHEDULE',
      'AGE',
      ...(wide ? ['CONTAINERS', 'IMAGES', 'SELECTOR'] : []),
    ],
    row: (o: KubeObject) => {
      const cj = o as CronJob;
      const last = cj.status?.lastScheduleTime;
      const row = [
        cj.metadata.name,
        cj.spec.schedule,
        cj.spec.timeZone ?? '<none>',
        String(cj.spec.suspend ?? false),
        String(cj.status?.active?.length ?? 0),
        last ? age(last) : '<none>',
        ageOf(cj),
      ];
      if (wide)
        row.push(...templateWide(cj.spec.jobTemplate.spec.template, cj.spec.jobTemplate.spec.selector));
      return row;
    },
  };
}

export function cronJobLines(cj: CronJob): Line[] {
  const st = cj.status;
  return [
    ['Schedule', cj.spec.schedule],
    ['Time Zone', cj.spec.timeZone ?? '<unset> (the leading head’s)'],
    ['Concurrency Policy', cj.spec.concurrencyPolicy ?? 'Allow'],
    ['Suspend', String(cj.spec.suspend ?? false)],
    ['Successful Job History Limit', String(cj.spec.successfulJobsHistoryLimit ?? 3)],
    ['Failed Job History Limit', String(cj.spec.failedJobsHistoryLimit ?? 1)],
    [
      'Starting Deadline Seconds',
      cj.spec.startingDeadlineSeconds === undefined ? '<unset>' : `${cj.spec.startingDeadlineSeconds}s`,
    ],
    ['Last Schedule Time', st?.lastScheduleTime ?? '<unset>'],
    ['Last Successful Time', st?.lastSuccessfulTime ?? '<unset>'],
    ['Active Jobs', st?.active?.map((a) => a.name).join(', ') || '<none>'],
  ];
}
