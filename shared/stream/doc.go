// Package stream announces the committed changes of the credentials table:
// it reads records of the table's DynamoDB stream, as Lambda's event source
// mapping delivers them, and puts one event per change on a Bus
// (EventBridge in AWS), in order, telling the mapping which record to
// deliver again when a put fails.
//
// Because the events come from the stream, a change is announced once it is
// committed, whatever happens to the function that made it afterwards; a
// redelivered record makes the same event, eventId included.
package stream
