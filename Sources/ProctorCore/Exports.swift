// The core's users (the doors, the executor, the command line) see the data model through the core. The store's
// writing protocol (ProctorStoreWriting) is deliberately not re-exported.
@_exported import ProctorModel
