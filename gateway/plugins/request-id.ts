// Every response names its request, so a person can quote it to support and ops can find the
// log line. The id is random (genReqId), never taken from the client.
import fp from 'fastify-plugin'

export default fp(async function requestId (fastify) {
  fastify.addHook('onRequest', function (request, reply, done) {
    reply.header('x-request-id', request.id)
    done()
  })
}, { name: 'request-id' })
