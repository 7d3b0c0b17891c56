// The same /v1/schedule body and response schema the gateway serves, for the comparison servers.
import { defaults } from '../../../config/defaults.js'
import { scheduleViewer } from '../../../gateway/domain/schedule.js'
import { ScheduleSchema } from '../../../gateway/schemas/schedule.js'

export const scheduleView = scheduleViewer(defaults.schedule, defaults.poes, () => Date.now())
export const scheduleRouteOptions = { schema: { response: { 200: ScheduleSchema } } }
