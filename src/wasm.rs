//! Browser binding (filled in by the web issue).
