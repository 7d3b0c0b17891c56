// A liveness photo upload and a check's state, as the API shows them (gateway/domain/liveness.ts).
import Type from 'typebox'
import { REGISTRATION_ID } from './registration.js'

export const LIVENESS_ID = '^liv_[A-Za-z0-9_-]{22}$'

/**
 * JSON with the photo in base64 (not multipart): one body shape for every write, validated by the
 * same schema machinery and covered by Idempotency-Key like the rest. It costs a third more bytes
 * on the wire than multipart; the app sends a re-compressed selfie well under the limit.
 */
export function livenessUploadSchema (maxPhotoBytes: number, maxMembers: number) {
  return Type.Object({
    registrationId: Type.String({ pattern: REGISTRATION_ID }),
    memberIndex: Type.Integer({ minimum: 0, maximum: maxMembers - 1, description: 'which member of the registration is in the photo, from 0' }),
    // No maxLength here: a photo over the limit gets its own 413 (GW_ERR_LIVENESS_PHOTO_TOO_LARGE),
    // and the route's body limit stops anything far larger before it is parsed.
    photo: Type.String({ description: `the JPEG or PNG photo, base64, at most ${maxPhotoBytes} bytes decoded; its format is read from its bytes` }),
    contentType: Type.Optional(Type.String({ maxLength: 100, description: 'ignored: the format is read from the bytes' })),
    fileName: Type.Optional(Type.String({ maxLength: 255, description: 'ignored: the format is read from the bytes' }))
  }, { additionalProperties: false })
}

export const LivenessParams = Type.Object({ id: Type.String({ pattern: LIVENESS_ID }) })

export const LivenessAcceptedSchema = Type.Object({
  livenessId: Type.String(),
  status: Type.Literal('checking')
})

export const LivenessViewSchema = Type.Object({
  livenessId: Type.String(),
  registrationId: Type.String(),
  memberIndex: Type.Integer(),
  status: Type.Enum(['checking', 'queued', 'passed', 'failed'], { description: 'queued: waiting for the vendor (position, estimated wait); checking: with the vendor now' }),
  position: Type.Optional(Type.Integer({ minimum: 1, description: 'checks ahead of this one, this one included' })),
  estimatedWaitSeconds: Type.Optional(Type.Integer({ minimum: 0 })),
  reason: Type.Optional(Type.Enum(['not_live', 'expired'], { description: 'why it failed: the vendor found no live person, or the photo waited longer than it is kept' })),
  code: Type.Optional(Type.Enum(['GW_ERR_LIVENESS_NOT_LIVE', 'GW_ERR_LIVENESS_EXPIRED'], { description: 'when it failed: the catalogued code of its message' })),
  message: Type.Optional(Type.String({ description: 'when it failed: what to do next, in the Content-Language' }))
})
