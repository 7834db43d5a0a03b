import Testing

@testable import ProctorCore

/// How secrets are stored: the hashes already in every database must stay what they are.
@Suite struct CredentialsTests {
    @Test func aTokenIsStoredAsItsSHA256InLowerCaseHex() {
        // FIPS 180-2's example for "abc", and the empty string's digest.
        #expect(Credentials.tokenHash("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Credentials.tokenHash("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
        // Of the UTF-8 bytes.
        #expect(Credentials.tokenHash("pté") == "11a681b226d415a5db3990616f06446980d6150e0937cd0b25b14254b6eb0566")
        #expect(Credentials.hex([0x00, 0x09, 0x0a, 0x0f, 0xa5, 0xf0, 0xff]) == "00090a0fa5f0ff")
        #expect(Credentials.hex([]) == "")
    }
}
